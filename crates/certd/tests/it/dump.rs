//! A thief with a copy of certd's database. certd runs as a process over SQLite with Pebble
//! as its CA; a victim fills every table the way users do (a verified account with a
//! session, a hostname, an unused and a consumed API key, an enrolled device that signed a
//! request and got a certificate, a pending password reset; another account's pending
//! verification link). The thief copies the live database file with `sqlite3 .backup`,
//! reads every table, and tries everything in it against the running service: each must
//! fail with its specific code, and the victim's own use must still work afterwards.
//! (Signatures older than five minutes are refused too: `signed.rs` moves the clock for
//! that; this process runs on the real one, so a replay here meets the spent nonce.)

use std::net::IpAddr;

use base64::Engine;
use pki::request_signing::DeviceKey;
use serde_json::{Value, json};

use crate::harness::{HttpConn, Proc, ZONE, http_request, signed_headers};

const PASSWORD: &str = "a long and unusual phrase";
const VICTIM: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1));
const THIEF: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 3));

/// Every table the schema has; a new one fails the test until the thief below tries it.
const TABLES: &[&str] = &[
    "_sqlx_migrations",
    "accounts",
    "api_keys",
    "audit_events",
    "certificates",
    "devices",
    "email_tokens",
    "hostnames",
    "nonces",
    "orders",
    "sessions",
    "sqlite_sequence",
];

/// A P-256 key (PKCS#8 PEM) and a CSR naming only `fqdn`.
fn key_and_csr(fqdn: &str) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec![fqdn.to_owned()]).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    let csr = params.serialize_request(&key).unwrap().pem().unwrap();
    (key.serialize_pem(), csr)
}

fn enroll_body(api_key: &str, device: &DeviceKey) -> Value {
    let pk = base64::engine::general_purpose::STANDARD.encode(device.public_key());
    json!({"api_key": api_key, "public_key": pk})
}

/// A web form post (`application/x-www-form-urlencoded`) bound to the pre-session cookie.
async fn form(
    conn: &mut HttpConn,
    path: &str,
    pre: &str,
    fields: &str,
) -> crate::harness::HttpReply {
    conn.call(
        "POST",
        path,
        &[
            ("cookie", format!("certd_pre={pre}")),
            (
                "content-type",
                "application/x-www-form-urlencoded".to_owned(),
            ),
        ],
        fields.as_bytes(),
    )
    .await
}

/// The pre-session cookie and CSRF token of an anonymous page.
async fn anonymous_page(conn: &mut HttpConn, path: &str) -> (String, String) {
    let page = conn.call("GET", path, &[], b"").await;
    assert_eq!(page.status, 200, "{path}: {}", page.text());
    (page.cookie("certd_pre").unwrap(), page.csrf())
}

/// The DER inside a one-block PEM.
fn pem_der(pem: &str) -> Vec<u8> {
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap()
}

fn as_refs(h: &[(String, String)]) -> Vec<(&str, String)> {
    h.iter().map(|(n, v)| (n.as_str(), v.clone())).collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stolen_database_issues_nothing_and_logs_nobody_in() {
    let certd = Proc::start(true);
    let mut victim = HttpConn::new(certd.addr(), VICTIM);

    // ---- the victim uses the service -------------------------------------------------------
    let r = victim
        .json(
            "POST",
            "/api/v1/accounts",
            None,
            Some(json!({"username": "vera", "password": PASSWORD, "email": "vera@example.org"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let verify_token = certd.mailed_token("verify", 1);
    let r = victim
        .json(
            "POST",
            "/api/v1/session",
            None,
            Some(json!({"username": "vera", "password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let session = r.cookie("certd_session").unwrap();
    let r = victim
        .json(
            "POST",
            "/api/v1/email/verify",
            None,
            Some(json!({"token": verify_token})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = victim
        .json(
            "POST",
            "/api/v1/hostnames",
            Some(&session),
            Some(json!({"name": "vera-box"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let mut keys = Vec::new();
    for _ in 0..2 {
        let r = victim
            .json(
                "POST",
                "/api/v1/api-keys",
                Some(&session),
                Some(json!({"hostname": "vera-box"})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
        keys.push(r.json()["key"].as_str().unwrap().to_owned());
    }
    let (unused_key, used_key) = (keys[0].clone(), keys[1].clone());
    let device = DeviceKey::generate().unwrap();
    let r = victim
        .json(
            "POST",
            "/api/v1/enroll",
            None,
            Some(enroll_body(&used_key, &device)),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let device_id = r.json()["device_id"].as_i64().unwrap();
    // A signed "who am I" and a signed CSR, kept exactly as they went over the wire.
    let who_am_i = http_request(
        "GET",
        "/api/v1/device",
        &signed_headers(&device, device_id, "GET", "/api/v1/device", b"", "vera-n1"),
        b"",
    );
    assert_eq!(victim.send(&who_am_i).await.status, 200);
    let fqdn = format!("vera-box.{ZONE}");
    let (serving_key, csr) = key_and_csr(&fqdn);
    let csr_body = json!({ "csr": csr }).to_string();
    let sign_csr = http_request(
        "POST",
        "/api/v1/certificates",
        &signed_headers(
            &device,
            device_id,
            "POST",
            "/api/v1/certificates",
            csr_body.as_bytes(),
            "vera-n2",
        ),
        csr_body.as_bytes(),
    );
    let r = victim.send(&sign_csr).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let serial = r.json()["serial"].as_str().unwrap().to_owned();
    // Another account that has not followed its verification link yet.
    let r = victim
        .json(
            "POST",
            "/api/v1/accounts",
            None,
            Some(json!({"username": "walt", "password": PASSWORD, "email": "walt@example.org"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let walt_verify = certd.mailed_token("verify", 2);
    // The victim asks for a password reset and has not used the link yet.
    let (pre, csrf) = anonymous_page(&mut victim, "/forgot").await;
    let r = form(
        &mut victim,
        "/forgot",
        &pre,
        &format!("csrf={csrf}&username=vera"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let reset_token = certd.mailed_token("reset", 1);

    // ---- the thief copies the live database ---------------------------------------------------
    let loot = tempfile::tempdir().unwrap();
    let stolen = loot.path().join("stolen.sqlite");
    let out = std::process::Command::new("sqlite3")
        .arg(certd.db())
        .arg(format!(".backup '{}'", stolen.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let sql = |q: &str| Proc::sql(&stolen, q);
    let tables: Vec<String> =
        sql("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_owned())
            .collect();
    assert_eq!(
        tables, TABLES,
        "the schema changed: teach this thief the new table"
    );
    let dump = std::process::Command::new("sqlite3")
        .arg(&stolen)
        .arg(".dump")
        .output()
        .unwrap()
        .stdout;

    // No secret the victim holds is in the copy, the dump of it, or the live files.
    let mut files = vec![std::fs::read(&stolen).unwrap(), dump.clone()];
    for suffix in ["", "-wal"] {
        let path = format!("{}{suffix}", certd.db().display());
        if let Ok(bytes) = std::fs::read(&path) {
            files.push(bytes);
        }
    }
    let device_pkcs8 = {
        use secrecy::ExposeSecret;
        device.pkcs8().expose_secret().to_vec()
    };
    let serving_der = pem_der(&serving_key);
    let secrets: Vec<(&str, Vec<u8>)> = vec![
        ("password", PASSWORD.into()),
        ("session token", session.clone().into()),
        ("session token without prefix", session[4..].into()),
        ("unused API key", unused_key.clone().into()),
        ("unused API key without prefix", unused_key[4..].into()),
        ("consumed API key", used_key.clone().into()),
        ("consumed API key without prefix", used_key[4..].into()),
        ("spent verification token", verify_token.clone().into()),
        ("pending verification token", walt_verify.clone().into()),
        ("pending reset token", reset_token.clone().into()),
        // The Ed25519 seed: bytes 16..48 of its PKCS#8 (v1 and v2 alike).
        ("device private key (seed)", device_pkcs8[16..48].to_vec()),
        (
            "device private key (base64)",
            base64::engine::general_purpose::STANDARD
                .encode(&device_pkcs8)
                .into(),
        ),
        ("serving private key (DER)", serving_der),
        ("any PEM private key", b"PRIVATE KEY".to_vec()),
    ];
    for (what, secret) in &secrets {
        for (i, file) in files.iter().enumerate() {
            assert!(!contains(file, secret), "{what} is in stolen file #{i}");
        }
    }

    // ---- the thief uses the loot --------------------------------------------------------------
    let mut thief = HttpConn::new(certd.addr(), THIEF);

    // accounts: the password hash, tried as the password.
    let accounts = sql("SELECT username, password_hash FROM accounts");
    assert_eq!(accounts.len(), 2);
    for row in &accounts {
        let hash = row["password_hash"].as_str().unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        let r = thief
            .json(
                "POST",
                "/api/v1/session",
                None,
                Some(json!({"username": row["username"], "password": hash})),
            )
            .await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (401, "CD2001"),
            "{}",
            r.text()
        );
    }

    // sessions: each hash as the cookie, for the API and the pages.
    let sessions = sql("SELECT token_hash FROM sessions");
    assert!(!sessions.is_empty());
    for row in &sessions {
        let hash = row["token_hash"].as_str().unwrap();
        for cookie in [hash.to_owned(), format!("ses_{hash}")] {
            for path in ["/api/v1/hostnames", "/api/v1/audit", "/api/v1/devices"] {
                let r = thief.json("GET", path, Some(&cookie), None).await;
                assert_eq!((r.status, r.code().as_str()), (401, "CD2002"), "{path}");
            }
            let r = thief
                .json(
                    "DELETE",
                    &format!("/api/v1/certificates/{serial}"),
                    Some(&cookie),
                    None,
                )
                .await;
            assert_eq!((r.status, r.code().as_str()), (401, "CD2002"));
            let r = thief
                .call(
                    "GET",
                    "/dashboard",
                    &[("cookie", format!("certd_session={cookie}"))],
                    b"",
                )
                .await;
            assert_eq!(
                (r.status, r.header("location")),
                (303, Some("/login")),
                "the dashboard shows nothing to a hash"
            );
        }
    }

    // api_keys: each hash and prefix as an API key, to enroll the thief's own device.
    let thief_device = DeviceKey::generate().unwrap();
    let api_keys = sql("SELECT prefix, key_hash FROM api_keys");
    assert_eq!(api_keys.len(), 2);
    for row in &api_keys {
        let (prefix, hash) = (
            row["prefix"].as_str().unwrap(),
            row["key_hash"].as_str().unwrap(),
        );
        for attempt in [
            hash.to_owned(),
            prefix.to_owned(),
            format!("ask_{hash}"),
            format!("{prefix}{hash}"),
        ] {
            let r = thief
                .json(
                    "POST",
                    "/api/v1/enroll",
                    None,
                    Some(enroll_body(&attempt, &thief_device)),
                )
                .await;
            assert_eq!(
                (r.status, r.code().as_str()),
                (401, "CD4001"),
                "{}",
                r.text()
            );
        }
    }

    // devices: the public key and id; the thief signs with its own key under that id.
    let devices = sql("SELECT id, hex(public_key) AS pk FROM devices");
    assert_eq!(devices.len(), 1);
    let stolen_id = devices[0]["id"].as_i64().unwrap();
    assert_eq!(stolen_id, device_id);
    let (_, thief_csr) = key_and_csr(&fqdn);
    let thief_body = json!({ "csr": thief_csr }).to_string();
    for (i, (method, path, body)) in [
        ("GET", "/api/v1/device", String::new()),
        ("POST", "/api/v1/certificates", thief_body.clone()),
    ]
    .into_iter()
    .enumerate()
    {
        let headers = signed_headers(
            &thief_device,
            stolen_id,
            method,
            path,
            body.as_bytes(),
            &format!("thief-{i}"),
        );
        let r = thief.call(method, path, &headers, body.as_bytes()).await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (401, "CD5001"),
            "{}",
            r.text()
        );
    }

    // nonces: the recorded requests replayed exactly.
    let nonces: Vec<String> = sql("SELECT nonce FROM nonces")
        .iter()
        .map(|r| r["nonce"].as_str().unwrap().to_owned())
        .collect();
    assert!(nonces.contains(&"vera-n1".to_owned()) && nonces.contains(&"vera-n2".to_owned()));
    for recorded in [&who_am_i, &sign_csr] {
        let r = thief.send(recorded).await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (401, "CD5003"),
            "{}",
            r.text()
        );
    }
    // The recorded CSR request with the thief's CSR in the body, the victim's signature
    // kept: the digest no longer matches.
    let split = |raw: &[u8]| {
        let text = String::from_utf8(raw.to_vec()).unwrap();
        let (head, _) = text.split_once("\r\n\r\n").unwrap();
        head.lines()
            .skip(2)
            .filter_map(|l| l.split_once(": "))
            .filter(|(n, _)| *n != "content-length")
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect::<Vec<_>>()
    };
    let recorded: Vec<(String, String)> = split(&sign_csr);
    let r = thief
        .call(
            "POST",
            "/api/v1/certificates",
            &as_refs(&recorded),
            thief_body.as_bytes(),
        )
        .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (401, "CD5001"),
        "{}",
        r.text()
    );
    // Same body, a fresh nonce written into the victim's signature input: the signature
    // covers the nonce.
    let fresh: Vec<(String, String)> = recorded
        .iter()
        .map(|(n, v)| {
            let v = if n == "signature-input" {
                v.replace("vera-n2", "thief-fresh")
            } else {
                v.clone()
            };
            (n.clone(), v)
        })
        .collect();
    let r = thief
        .call(
            "POST",
            "/api/v1/certificates",
            &as_refs(&fresh),
            csr_body.as_bytes(),
        )
        .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (401, "CD5001"),
        "{}",
        r.text()
    );

    // email_tokens: each hash as a verification link and as a reset link.
    let links = sql("SELECT token_hash, purpose FROM email_tokens");
    assert_eq!(links.len(), 3, "{links:?}");
    for row in &links {
        let hash = row["token_hash"].as_str().unwrap();
        for token in [hash.to_owned(), format!("eml_{hash}")] {
            let r = thief
                .json(
                    "POST",
                    "/api/v1/email/verify",
                    None,
                    Some(json!({"token": token})),
                )
                .await;
            assert_eq!(
                (r.status, r.code().as_str()),
                (400, "CD2005"),
                "{}",
                r.text()
            );
            let (pre, csrf) = anonymous_page(&mut thief, &format!("/reset?token={token}")).await;
            let r = form(
                &mut thief,
                "/reset",
                &pre,
                &format!("csrf={csrf}&token={token}&new_password=the+thief+was+here+again"),
            )
            .await;
            assert_eq!(r.status, 400, "{}", r.text());
            assert!(
                r.text().contains("invalid, already used or expired"),
                "{}",
                r.text()
            );
        }
    }

    // certificates and orders hold public data only: chains and CSRs.
    for row in sql("SELECT chain_pem FROM certificates") {
        assert!(
            row["chain_pem"]
                .as_str()
                .unwrap()
                .contains("BEGIN CERTIFICATE")
        );
    }
    assert_eq!(sql("SELECT count(*) AS n FROM orders")[0]["n"], 1);
    // Nothing the thief did issued, enrolled or logged in anything.
    assert_eq!(certd.count("certificates"), 1);
    assert_eq!(certd.count("orders"), 1);
    assert_eq!(certd.count("devices"), 1);
    assert_eq!(certd.count("sessions"), sessions.len() as i64);

    // ---- the victim's own use still works -------------------------------------------------------
    let r = victim
        .json("GET", "/api/v1/hostnames", Some(&session), None)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()[0]["name"], "vera-box");
    let r = victim
        .send(&http_request(
            "GET",
            "/api/v1/device",
            &signed_headers(&device, device_id, "GET", "/api/v1/device", b"", "vera-n3"),
            b"",
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let second = DeviceKey::generate().unwrap();
    let r = victim
        .json(
            "POST",
            "/api/v1/enroll",
            None,
            Some(enroll_body(&unused_key, &second)),
        )
        .await;
    assert_eq!(r.status, 201, "the unused key still enrolls: {}", r.text());
    let r = victim
        .json(
            "POST",
            "/api/v1/email/verify",
            None,
            Some(json!({"token": walt_verify})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let (pre, csrf) = anonymous_page(&mut victim, &format!("/reset?token={reset_token}")).await;
    let r = form(
        &mut victim,
        "/reset",
        &pre,
        &format!("csrf={csrf}&token={reset_token}&new_password=a+new+and+unusual+phrase"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = victim
        .json(
            "POST",
            "/api/v1/session",
            None,
            Some(json!({"username": "vera", "password": "a new and unusual phrase"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
}
