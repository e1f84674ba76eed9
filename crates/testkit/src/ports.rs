//! Loopback ports for test servers: finding a free one and waiting for one to listen.
//! Servers under test should still prefer binding port 0 and reporting `local_addr()`.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// A TCP port on 127.0.0.1 that was free a moment ago (bind port 0, read it, drop it).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener
        .local_addr()
        .expect("local_addr of a bound listener")
        .port()
}

/// Polls `addr` until a TCP connect succeeds or `timeout` passes; true if it connected.
pub fn wait_for_port(addr: SocketAddr, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_port_can_be_bound_and_then_waited_for() {
        let port = free_port();
        assert_ne!(port, 0);
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        assert!(
            !wait_for_port(addr, Duration::from_millis(100)),
            "nothing listens yet"
        );
        let _listener = TcpListener::bind(addr).expect("the free port binds");
        assert!(wait_for_port(addr, Duration::from_secs(2)));
    }
}
