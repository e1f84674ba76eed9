//! Every route to a certificate for someone else's hostname, and every way to make a name
//! resolve off loopback through the web forms. certd runs as a process with Pebble as its
//! CA; the victim has a name, devices and a certificate; the attacker has an account, a
//! name and an enrolled device of its own. After each attempt: the refusal's status and
//! code, nothing stored (no order, certificate, device, key or hostname), and certd's DNS,
//! queried with dig for every address-bearing type, answers 127.0.0.1 and nothing else.
//!
//! Already covered elsewhere and not repeated: a CSR for an unregistered name and a stolen
//! device id on the in-process API (`issue.rs`), replays of `GET /api/v1/device`, consumed
//! and revoked API keys (`signed.rs`), API keys for another's hostname and every bad name
//! through the JSON API (`api.rs`, `process.rs`), hostile CSR shapes (`hostile.rs`).

use std::net::{IpAddr, Ipv4Addr};

use base64::Engine;
use pki::request_signing::DeviceKey;
use serde_json::{Value, json};

use crate::harness::{HttpConn, HttpReply, Proc, ZONE, http_request, signed_headers};

const VICTIM: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 5));
const ATTACKER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 4));
const CERTS: &str = "/api/v1/certificates";

/// What must not change while the attacker works.
#[derive(Debug, PartialEq)]
struct Stored {
    orders: i64,
    certificates: i64,
    devices: i64,
    api_keys: i64,
    hostnames: Vec<Value>,
}

fn stored(certd: &Proc) -> Stored {
    Stored {
        orders: certd.count("orders"),
        certificates: certd.count("certificates"),
        devices: certd.count("devices"),
        api_keys: certd.count("api_keys"),
        hostnames: Proc::sql(
            &certd.db(),
            "SELECT label, account_id, deleted_at IS NULL AS live FROM hostnames ORDER BY id",
        ),
    }
}

/// Nothing was stored, and the names in play answer loopback only.
fn unchanged(certd: &Proc, before: &Stored, what: &str, names: &[&str]) {
    assert_eq!(&stored(certd), before, "{what} stored something");
    let mut all = vec!["vic-box", "mal-box"];
    all.extend_from_slice(names);
    certd.assert_loopback_only(&all);
    for name in ["vic-box", "mal-box"] {
        assert_eq!(
            certd.dig(&format!("{name}.{ZONE}"), "A"),
            ["127.0.0.1"],
            "{what}: {name}"
        );
    }
}

fn csr(names: &[&str]) -> String {
    let body = json!({ "csr": crate::issue::csr_pem(names) });
    body.to_string()
}

async fn signed_csr(
    conn: &mut HttpConn,
    key: &DeviceKey,
    id: i64,
    body: &str,
    nonce: &str,
) -> HttpReply {
    let headers = signed_headers(key, id, "POST", CERTS, body.as_bytes(), nonce);
    conn.call("POST", CERTS, &headers, body.as_bytes()).await
}

fn expect(r: &HttpReply, status: u16, code: &str, what: &str) {
    assert_eq!(
        (r.status, r.code().as_str()),
        (status, code),
        "{what}: {}",
        r.text()
    );
}

/// A logged-in form post with the session's CSRF token.
async fn form(conn: &mut HttpConn, session: &str, path: &str, fields: &str) -> HttpReply {
    let cookie = format!("certd_session={session}");
    let page = conn
        .call("GET", "/dashboard", &[("cookie", cookie.clone())], b"")
        .await;
    assert_eq!(page.status, 200, "{}", page.text());
    let body = format!("csrf={}&{fields}", page.csrf());
    conn.call(
        "POST",
        path,
        &[
            ("cookie", cookie),
            (
                "content-type",
                "application/x-www-form-urlencoded".to_owned(),
            ),
        ],
        body.as_bytes(),
    )
    .await
}

/// `application/x-www-form-urlencoded` encoding of one value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The error a page shows (`<p class="error" id="error">`), unescaped enough to match.
fn page_error(r: &HttpReply) -> String {
    let text = r.text();
    let Some(at) = text.find("id=\"error\"") else {
        return String::new();
    };
    let rest = &text[at..];
    let start = rest.find('>').map_or(0, |i| i + 1);
    let end = rest.find("</p>").unwrap_or(rest.len());
    rest[start..end]
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_route_leads_to_a_certificate_for_someone_elses_name() {
    let certd = Proc::start(true);
    let mut vic = HttpConn::new(certd.addr(), VICTIM);
    let mut mal = HttpConn::new(certd.addr(), ATTACKER);
    let mut ignored = Vec::new();
    let victim = certd
        .onboard(&mut vic, "vic", "vic-box", &mut ignored)
        .await;
    let attacker = certd
        .onboard(&mut mal, "mal", "mal-box", &mut ignored)
        .await;
    let vic_fqdn = format!("vic-box.{ZONE}");

    // The victim's certificate, the request kept as it went over the wire.
    let vic_body = csr(&[&vic_fqdn]);
    let vic_request = http_request(
        "POST",
        CERTS,
        &signed_headers(
            &victim.device,
            victim.id,
            "POST",
            CERTS,
            vic_body.as_bytes(),
            "vic-1",
        ),
        vic_body.as_bytes(),
    );
    let r = vic.send(&vic_request).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let serial = r.json()["serial"].as_str().unwrap().to_owned();
    // A second device of the victim's (an old laptop), revoked since; the attacker has
    // its key.
    let r = vic
        .json(
            "POST",
            "/api/v1/api-keys",
            Some(&victim.session),
            Some(json!({"hostname": "vic-box"})),
        )
        .await;
    let old_key = r.json()["key"].as_str().unwrap().to_owned();
    let old_laptop = DeviceKey::generate().unwrap();
    let pk = |d: &DeviceKey| base64::engine::general_purpose::STANDARD.encode(d.public_key());
    let r = vic
        .json(
            "POST",
            "/api/v1/enroll",
            None,
            Some(json!({"api_key": old_key, "public_key": pk(&old_laptop)})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let old_id = r.json()["device_id"].as_i64().unwrap();
    let r = vic
        .json(
            "DELETE",
            &format!("/api/v1/devices/{old_id}"),
            Some(&victim.session),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    let before = stored(&certd);
    assert_eq!((before.orders, before.certificates), (1, 1));

    // ---- signed CSR requests -------------------------------------------------------------------
    // My enrolled device, a CSR for the victim's name; then with both names.
    let r = signed_csr(
        &mut mal,
        &attacker.device,
        attacker.id,
        &csr(&[&vic_fqdn]),
        "m1",
    )
    .await;
    expect(&r, 400, "CD8001", "a CSR for another user's name");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("must name exactly \"mal-box.certs.test\""),
        "{}",
        r.text()
    );
    unchanged(&certd, &before, "a CSR for another user's name", &[]);
    let both = csr(&[&format!("mal-box.{ZONE}"), &vic_fqdn]);
    let r = signed_csr(&mut mal, &attacker.device, attacker.id, &both, "m2").await;
    expect(&r, 400, "CD8001", "a CSR adding another user's name");
    unchanged(&certd, &before, "a CSR adding another user's name", &[]);

    // The victim's device id, signed with my key.
    let r = signed_csr(
        &mut mal,
        &attacker.device,
        victim.id,
        &csr(&[&vic_fqdn]),
        "m3",
    )
    .await;
    expect(&r, 401, "CD5001", "a stolen device id");
    unchanged(&certd, &before, "a stolen device id", &[]);

    // The victim's request replayed: the exact bytes, then its signature over my body.
    let r = mal.send(&vic_request).await;
    expect(&r, 401, "CD5003", "a replayed signed request");
    unchanged(&certd, &before, "a replayed signed request", &[]);
    let text = String::from_utf8(vic_request.clone()).unwrap();
    let (head, _) = text.split_once("\r\n\r\n").unwrap();
    let headers: Vec<(&str, String)> = head
        .lines()
        .skip(2)
        .filter_map(|l| l.split_once(": "))
        .filter(|(n, _)| *n != "content-length")
        .map(|(n, v)| (n, v.to_owned()))
        .collect();
    let mine = csr(&[&vic_fqdn]);
    let r = mal.call("POST", CERTS, &headers, mine.as_bytes()).await;
    expect(&r, 401, "CD5001", "a replayed signature over another body");
    unchanged(
        &certd,
        &before,
        "a replayed signature over another body",
        &[],
    );

    // The revoked device's key.
    let r = signed_csr(&mut mal, &old_laptop, old_id, &csr(&[&vic_fqdn]), "m4").await;
    expect(&r, 401, "CD5002", "a revoked device");
    unchanged(&certd, &before, "a revoked device", &[]);

    // ---- API keys ----------------------------------------------------------------------------
    // A consumed key enrolls nothing: mine, or the victim's (seen over a shoulder).
    for (key, whose) in [
        (&attacker.key, "my"),
        (&victim.key, "the victim's"),
        (&old_key, "the victim's old"),
    ] {
        let thief = DeviceKey::generate().unwrap();
        let r = mal
            .json(
                "POST",
                "/api/v1/enroll",
                None,
                Some(json!({"api_key": key, "public_key": pk(&thief)})),
            )
            .await;
        expect(&r, 401, "CD4001", &format!("{whose} consumed API key"));
    }
    unchanged(&certd, &before, "consumed API keys", &[]);
    // A key for the victim's name from my account: the API and the form.
    let r = mal
        .json(
            "POST",
            "/api/v1/api-keys",
            Some(&attacker.session),
            Some(json!({"hostname": "vic-box"})),
        )
        .await;
    expect(&r, 403, "CD3003", "an API key for another's name");
    let r = form(&mut mal, &attacker.session, "/api-keys", "hostname=vic-box").await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(
        page_error(&r).contains("\"vic-box\" is not registered to this account"),
        "{}",
        page_error(&r)
    );
    unchanged(&certd, &before, "an API key for another's name", &[]);
    // The victim's name, device and certificate are not mine to delete or revoke.
    for (path, what) in [
        ("/api/v1/hostnames/vic-box".to_owned(), "hostname"),
        (format!("/api/v1/devices/{}", victim.id), "device"),
        (format!("/api/v1/certificates/{serial}"), "certificate"),
    ] {
        let r = mal
            .json("DELETE", &path, Some(&attacker.session), None)
            .await;
        expect(&r, 404, "CD6001", &format!("deleting another's {what}"));
    }
    for (path, what) in [
        ("/hostnames/vic-box/delete".to_owned(), "hostname"),
        (format!("/devices/{}/revoke", victim.id), "device"),
        (format!("/certificates/{serial}/revoke"), "certificate"),
    ] {
        let r = form(&mut mal, &attacker.session, &path, "").await;
        assert_eq!(r.status, 404, "{what}: {}", r.text());
        assert!(page_error(&r).contains("not found"), "{}", page_error(&r));
    }
    unchanged(&certd, &before, "deleting another's things", &[]);

    // ---- the hostname form: nothing resolves off loopback ----------------------------------------
    const INVALID: &str = "Hostname must be 1 to 63 characters of a-z, 0-9 and '-'";
    let long = "a".repeat(64);
    let very_long = "b".repeat(5000);
    let cases: Vec<(&str, u16, String)> = vec![
        ("127.0.0.1", 400, INVALID.to_owned()),
        ("10.0.0.1", 400, INVALID.to_owned()),
        ("::1", 400, INVALID.to_owned()),
        ("a.b", 400, INVALID.to_owned()),
        ("mal-box.certs.test", 400, INVALID.to_owned()),
        ("evil.com.", 400, INVALID.to_owned()),
        ("evil.com", 400, INVALID.to_owned()),
        ("x\r\nevil 60 IN A 10.0.0.1", 400, INVALID.to_owned()),
        ("x\0y", 400, INVALID.to_owned()),
        ("x y", 400, INVALID.to_owned()),
        ("b\u{fc}cher", 400, INVALID.to_owned()),
        // A Cyrillic "а" in place of the Latin one.
        ("ex\u{430}mple", 400, INVALID.to_owned()),
        ("*.x", 400, INVALID.to_owned()),
        ("*", 400, INVALID.to_owned()),
        ("@", 400, INVALID.to_owned()),
        ("<b>x</b>", 400, INVALID.to_owned()),
        ("-x", 400, INVALID.to_owned()),
        ("x-", 400, INVALID.to_owned()),
        ("", 400, INVALID.to_owned()),
        (" ", 400, INVALID.to_owned()),
        (&long, 400, INVALID.to_owned()),
        (&very_long, 400, INVALID.to_owned()),
        (
            "xn--bcher-kva",
            400,
            "Hostname \"xn--bcher-kva\" is reserved".to_owned(),
        ),
        ("_acme-challenge", 400, INVALID.to_owned()),
        ("ns1", 400, "Hostname \"ns1\" is reserved".to_owned()),
        (
            "localhost",
            400,
            "Hostname \"localhost\" is reserved".to_owned(),
        ),
        ("vic-box", 409, "Hostname \"vic-box\" is taken".to_owned()),
        ("VIC-BOX", 409, "Hostname \"vic-box\" is taken".to_owned()),
        (" Vic-Box ", 409, "Hostname \"vic-box\" is taken".to_owned()),
    ];
    for (name, status, message) in &cases {
        let r = form(
            &mut mal,
            &attacker.session,
            "/hostnames",
            &format!("name={}", encode(name)),
        )
        .await;
        let shown: String = name.chars().take(40).collect();
        assert_eq!(r.status, *status, "{shown:?}: {}", page_error(&r));
        assert!(
            page_error(&r).starts_with(message.as_str()),
            "{shown:?}: {}",
            page_error(&r)
        );
        let dig_as: Vec<&str> = [
            "127.0.0.1",
            "10.0.0.1",
            "a.b",
            "evil.com",
            "x",
            "y",
            "example",
        ]
        .into_iter()
        .collect();
        unchanged(&certd, &before, &format!("the name {shown:?}"), &dig_as);
    }
    // Names outside the zone and the apex's neighbours answer nothing at all.
    for name in ["evil.com.", "10.0.0.1.", "127.0.0.1.in-addr.arpa."] {
        for rtype in ["A", "AAAA", "CNAME", "NS", "PTR"] {
            assert!(certd.dig(name, rtype).is_empty(), "{name} {rtype}");
        }
    }
    // Fields a form does not have are ignored: the name is registered, and resolves to
    // loopback only. A repeated field is refused.
    let r = form(
        &mut mal,
        &attacker.session,
        "/hostnames",
        "name=mal-two&address=10.9.9.9&a=10.9.9.9&type=CNAME&target=evil.example.&cname=evil.example.&ttl=1",
    )
    .await;
    assert_eq!(r.status, 303, "{}", page_error(&r));
    assert_eq!(certd.dig(&format!("mal-two.{ZONE}"), "A"), ["127.0.0.1"]);
    certd.assert_loopback_only(&["mal-two", "vic-box", "mal-box"]);
    // Surrounding white space is trimmed: "x\n" is the label "x", and nothing else.
    let r = form(&mut mal, &attacker.session, "/hostnames", "name=x%0A").await;
    assert_eq!(r.status, 303, "{}", page_error(&r));
    assert_eq!(certd.dig(&format!("x.{ZONE}"), "A"), ["127.0.0.1"]);
    certd.assert_loopback_only(&["x", "x.x"]);
    let r = form(
        &mut mal,
        &attacker.session,
        "/hostnames",
        "name=mal-three&name=10.0.0.1",
    )
    .await;
    assert_eq!(r.status, 400, "{}", page_error(&r));
    let labels: Vec<Value> = Proc::sql(&certd.db(), "SELECT label FROM hostnames ORDER BY id")
        .into_iter()
        .map(|r| r["label"].clone())
        .collect();
    assert_eq!(
        labels,
        [
            json!("vic-box"),
            json!("mal-box"),
            json!("mal-two"),
            json!("x")
        ]
    );
    let after = stored(&certd);
    assert_eq!(
        (
            after.orders,
            after.certificates,
            after.devices,
            after.api_keys
        ),
        (
            before.orders,
            before.certificates,
            before.devices,
            before.api_keys
        )
    );

    // ---- and the victim is untouched ------------------------------------------------------------
    let r = signed_csr(
        &mut vic,
        &victim.device,
        victim.id,
        &csr(&[&vic_fqdn]),
        "vic-2",
    )
    .await;
    assert_eq!(
        r.status,
        201,
        "the victim still gets certificates: {}",
        r.text()
    );
    assert_eq!(r.json()["fqdn"], vic_fqdn);
    let r = vic
        .json("GET", "/api/v1/hostnames", Some(&victim.session), None)
        .await;
    assert_eq!(r.json()[0]["name"], "vic-box");
}
