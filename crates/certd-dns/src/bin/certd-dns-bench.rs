//! The server `bench/dns/run` measures: certd-dns on 127.0.0.1:PORT (UDP and TCP) for the
//! zone `bench.test` with labels `h000000`, `h000001`, ... registered, until SIGTERM.
//!
//! `certd-dns-bench --port PORT [--names 100000] [--udp-workers N] [--threads N]`

use std::error::Error;
use std::io::Write;
use std::net::Ipv4Addr;
use std::sync::Arc;

use certd_dns::{CaaRecord, NameServer, ServeOptions, Soa, ZoneConfig, ZoneState};
use tokio::signal::unix::{SignalKind, signal};

struct Args {
    port: u16,
    names: usize,
    udp_workers: Option<usize>,
    threads: Option<usize>,
}

fn args() -> Result<Args, Box<dyn Error>> {
    let mut args = Args {
        port: 0,
        names: 100_000,
        udp_workers: None,
        threads: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--port" => args.port = value.parse()?,
            "--names" => args.names = value.parse()?,
            "--udp-workers" => args.udp_workers = Some(value.parse()?),
            "--threads" => args.threads = Some(value.parse()?),
            _ => return Err(format!("unknown argument {flag}").into()),
        }
    }
    if args.port == 0 {
        return Err("--port is required".into());
    }
    Ok(args)
}

/// The zone Knot serves in the same benchmark: same SOA, NS and glue.
fn config() -> ZoneConfig {
    ZoneConfig {
        apex: "bench.test".into(),
        nameservers: vec![NameServer {
            name: "ns1.bench.test".into(),
            ipv4: Some(Ipv4Addr::LOCALHOST),
            ipv6: None,
        }],
        soa: Soa {
            mname: "ns1.bench.test".into(),
            rname: "hostmaster.bench.test".into(),
            serial: 1,
            refresh: 7200,
            retry: 3600,
            expire: 1_209_600,
            minimum: 60,
        },
        caa: vec![CaaRecord {
            issuer: "letsencrypt.org".into(),
            account_uri: None,
            dns01_only: true,
        }],
        answer_aaaa: false,
        ttl: 300,
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = args()?;
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if let Some(threads) = args.threads {
        runtime.worker_threads(threads);
    }
    runtime.build()?.block_on(run(args))
}

async fn run(args: Args) -> Result<(), Box<dyn Error>> {
    let zone = ZoneState::new(config())?;
    zone.replace_all((0..args.names).map(|i| format!("h{i:06}")))?;
    let zone = Arc::new(zone);
    let udp = tokio::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, args.port)).await?;
    let tcp = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, args.port)).await?;
    let mut opts = ServeOptions::default();
    if let Some(n) = args.udp_workers {
        opts.udp_workers = n;
    }
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    writeln!(
        std::io::stderr(),
        "certd-dns-bench: {} names, {} UDP workers, listening on 127.0.0.1:{}",
        zone.len(),
        opts.udp_workers,
        args.port
    )?;
    certd_dns::serve(udp, tcp, zone, opts, async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
    .await;
    Ok(())
}
