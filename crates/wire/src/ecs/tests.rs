#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use time::macros::datetime;

const NOW: OffsetDateTime = datetime!(2026-12-03 12:00:00 UTC);

fn request(body: &str) -> LoadRequest {
    serde_json::from_str(body).unwrap()
}

fn valid_body(expiration_ms: i64) -> String {
    format!(
        r#"{{"ProfileName":"dev","Creds":{{"roleName":"Admin","accountId":123456789,
        "accessKeyId":"ASIAEXAMPLE","secretAccessKey":"s3cr3t","sessionToken":"tok",
        "expiration":{expiration_ms}}}}}"#
    )
}

#[test]
fn expiration_is_utc_with_z() {
    let t = datetime!(2026-12-03 13:00:00.123 +02:00);
    assert_eq!(rfc3339_z(t), "2026-12-03T11:00:00Z");
}

#[test]
fn valid_request_becomes_credentials() {
    let exp = (NOW + time::Duration::hours(1)).unix_timestamp() * 1000;
    let (profile, creds) = request(&valid_body(exp)).validate(NOW).unwrap();
    assert_eq!(profile, "dev");
    assert_eq!(
        creds.role_arn().unwrap(),
        "arn:aws:iam::000123456789:role/Admin"
    );
    let served = serde_json::to_value(creds.to_served(NOW)).unwrap();
    assert_eq!(served["AccessKeyId"], "ASIAEXAMPLE");
    assert_eq!(served["SecretAccessKey"], "s3cr3t");
    assert_eq!(served["Token"], "tok");
    assert_eq!(served["Expiration"], "2026-12-03T13:00:00Z");
    assert!(served.get("RoleArn").is_none());
}

#[test]
fn expired_and_nearly_expired_are_refused() {
    let exp = (NOW + time::Duration::seconds(59)).unix_timestamp() * 1000;
    let err = request(&valid_body(exp)).validate(NOW).unwrap_err();
    assert_eq!(err, LoadError::Expired("2026-12-03T12:00:59Z".into()));
    let err = request(&valid_body(-5)).validate(NOW).unwrap_err();
    assert_eq!(err, LoadError::InvalidExpiration(-5));
}

#[test]
fn missing_parts_are_named() {
    let err = request(r#"{"Creds":{}}"#).validate(NOW).unwrap_err();
    assert_eq!(err, LoadError::MissingProfileName);
    let err = request(r#"{"ProfileName":"p"}"#).validate(NOW).unwrap_err();
    assert_eq!(err, LoadError::MissingCreds);
    let err = request(r#"{"ProfileName":"p","Creds":{"accessKeyId":"A"}}"#).validate(NOW);
    assert_eq!(err.unwrap_err(), LoadError::MissingField("secretAccessKey"));
    let err = request(r#"{"ProfileName":"p","Creds":{"accessKeyId":"A B","secretAccessKey":"x"}}"#)
        .validate(NOW);
    assert_eq!(err.unwrap_err(), LoadError::InvalidField("accessKeyId"));
}

#[test]
fn unknown_fields_are_refused() {
    let err = serde_json::from_str::<LoadRequest>(r#"{"ProfileName":"p","Extra":1}"#);
    assert!(
        err.unwrap_err()
            .to_string()
            .contains("unknown field `Extra`")
    );
}

#[test]
fn long_term_keys_get_a_rolling_expiration_and_empty_token() {
    let body = r#"{"ProfileName":"p","Creds":{"accessKeyId":"AKIAX","secretAccessKey":"x"}}"#;
    let (_, creds) = request(body).validate(NOW).unwrap();
    assert!(creds.is_servable(NOW + time::Duration::days(999)));
    let served = serde_json::to_value(creds.to_served(NOW)).unwrap();
    assert_eq!(served["Token"], "");
    assert_eq!(served["Expiration"], "2026-12-03T13:00:00Z");
}

#[test]
fn debug_never_shows_secrets() {
    let exp = (NOW + time::Duration::hours(1)).unix_timestamp() * 1000;
    let req = request(&valid_body(exp));
    assert!(!format!("{req:?}").contains("s3cr3t"));
    let (_, creds) = req.validate(NOW).unwrap();
    let dbg = format!("{creds:?} {:?}", creds.to_served(NOW));
    assert!(!dbg.contains("s3cr3t") && !dbg.contains("tok\""), "{dbg}");
}

#[test]
fn summary_matches_aws_sso_cli_shape() {
    let exp = (NOW + time::Duration::minutes(90)).unix_timestamp() * 1000;
    let (p, creds) = request(&valid_body(exp)).validate(NOW).unwrap();
    let s = serde_json::to_value(ProfileSummary::new(&p, &creds, NOW)).unwrap();
    assert_eq!(
        s,
        serde_json::json!({"ProfileName":"dev","AccountId":"000123456789","RoleName":"Admin",
            "Expiration": exp / 1000, "Expires":"1h30m"})
    );
}
