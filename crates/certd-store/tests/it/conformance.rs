//! One battery, run on SQLite and on PostgreSQL: every test below is instantiated once per
//! backend by `on_both_backends!` (as `conformance::sqlite::<test>` and
//! `conformance::postgres::<test>`), so both must behave identically.

use std::net::IpAddr;
use std::sync::Arc;

use certd_store::{
    AccountId, DeviceId, EmailPurpose, EmailToken, HostnameRules, NewAuditEvent, NewCertificate,
    NewOrder, OrderState, OrderUpdate, Outcome, PasswordHash, SCHEMA_VERSION, Store, StoreError,
    TokenHash,
};
use sha2::{Digest, Sha256};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use tokio::sync::Barrier;

use crate::backend::{Backend, contains};

/// A fixed "now" with sub-second precision (microseconds survive both backends).
const T0: OffsetDateTime = datetime!(2026-03-01 12:00:00.123456 UTC);
const RULES: HostnameRules = HostnameRules {
    hold: Duration::days(90),
    max_per_account: 3,
};

fn sha256_hex(raw: &str) -> String {
    Sha256::digest(raw.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn token_hash(raw: &str) -> TokenHash {
    TokenHash::from_hex(&sha256_hex(raw)).unwrap()
}

fn pw(tag: &str) -> PasswordHash {
    PasswordHash::from_phc(format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA${tag}")).unwrap()
}

async fn account(store: &dyn Store, name: &str) -> AccountId {
    store
        .create_account(name, &format!("{name}@example.org"), &pw(name), T0)
        .await
        .unwrap()
        .id
}

/// An account holding `label`, with an API key (raw value returned) for it.
async fn account_with_key(store: &dyn Store, name: &str, label: &str) -> (AccountId, String) {
    let id = account(store, name).await;
    store.register_hostname(id, label, RULES, T0).await.unwrap();
    let raw = format!("certd_ak_{name}_{label}_secretpart");
    store
        .create_api_key(id, label, &raw[..12], &token_hash(&raw), T0)
        .await
        .unwrap();
    (id, raw)
}

fn key(n: u8) -> [u8; 32] {
    [n; 32]
}

macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(crate::backend::Backend::sqlite().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(crate::backend::Backend::postgres().await).await;
                }
            )*
        }
    };
}

on_both_backends!(
    accounts_unique_ignoring_case_and_soft_deleted,
    sessions_expire_and_follow_their_account,
    hostnames_unique_lowercase_limited_and_held,
    api_keys_listed_revoked_and_consumed_once,
    api_key_consumed_once_under_concurrency,
    enrollment_is_one_transaction,
    deleting_a_hostname_revokes_its_keys_and_devices,
    nonces_refuse_replay_until_pruned,
    orders_move_forward_with_compare_and_set,
    order_race_has_one_winner,
    certificates_and_weekly_budget,
    audit_trail_newest_first,
    reopen_keeps_data_and_refuses_newer_schema,
    disk_holds_no_plaintext_secret,
    email_tokens_consumed_once_and_expire,
    consuming_an_email_token_spends_its_siblings,
    email_token_consumed_once_under_concurrency,
    update_email_clears_verification_and_spends_every_link,
    deleting_an_account_spends_its_email_tokens,
    email_tokens_counted_and_pruned,
    sessions_of_an_account_deleted_but_one,
);

async fn accounts_unique_ignoring_case_and_soft_deleted(b: Backend) {
    let s = &*b.store;
    let alice = s
        .create_account("Alice", "alice@example.org", &pw("a"), T0)
        .await
        .unwrap();
    assert_eq!(alice.username, "Alice");
    assert_eq!(alice.created_at, T0, "microseconds survive");
    assert_eq!(alice.email_verified_at, None);
    for dup in ["alice", "ALICE", "Alice"] {
        let err = s.create_account(dup, "x@example.org", &pw("b"), T0).await;
        assert!(
            matches!(err, Err(StoreError::UsernameTaken)),
            "{dup}: {err:?}"
        );
    }
    let found = s.get_account_by_username("aLiCe").await.unwrap();
    assert_eq!(found.id, alice.id);
    assert_eq!(found.password_hash.as_phc(), pw("a").as_phc());

    s.update_password_hash(alice.id, &pw("new")).await.unwrap();
    // Only while the address is still the one the link was sent to.
    assert!(matches!(
        s.mark_email_verified(alice.id, "other@example.org", T0)
            .await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(
        s.get_account(alice.id).await.unwrap().email_verified_at,
        None
    );
    s.mark_email_verified(
        alice.id,
        &alice.email.to_ascii_uppercase(),
        T0 + Duration::hours(1),
    )
    .await
    .unwrap();
    let found = s.get_account(alice.id).await.unwrap();
    assert_eq!(found.password_hash.as_phc(), pw("new").as_phc());
    assert_eq!(found.email_verified_at, Some(T0 + Duration::hours(1)));

    s.set_account_disabled(alice.id, Some(T0)).await.unwrap();
    assert_eq!(s.get_account(alice.id).await.unwrap().disabled_at, Some(T0));
    s.set_account_disabled(alice.id, None).await.unwrap();

    s.delete_account(alice.id, T0).await.unwrap();
    for err in [
        s.get_account(alice.id).await.err(),
        s.get_account_by_username("alice").await.err(),
    ] {
        assert!(
            matches!(err, Some(StoreError::NotFound { what: "account" })),
            "{err:?}"
        );
    }
    assert!(matches!(
        s.delete_account(alice.id, T0).await,
        Err(StoreError::NotFound { .. })
    ));
    let again = s
        .create_account("alice", "x@example.org", &pw("c"), T0)
        .await;
    assert!(
        matches!(again, Err(StoreError::UsernameTaken)),
        "names stay taken"
    );
    assert!(matches!(
        s.update_password_hash(AccountId(999_999), &pw("x")).await,
        Err(StoreError::NotFound { what: "account" })
    ));
    assert!(matches!(
        s.get_account_by_username("no such user with spaces é")
            .await,
        Err(StoreError::InvalidInput { .. })
    ));
}

async fn sessions_expire_and_follow_their_account(b: Backend) {
    let s = &*b.store;
    let bob = account(s, "bob").await;
    let (h1, h2) = (token_hash("session-one"), token_hash("session-two"));
    let exp = T0 + Duration::hours(12);
    s.create_session(&h1, bob, T0, exp).await.unwrap();
    s.create_session(&h2, bob, T0, T0 + Duration::hours(1))
        .await
        .unwrap();

    let found = s.get_session(&h1, T0 + Duration::hours(11)).await.unwrap();
    assert_eq!(
        (found.account_id, found.created_at, found.expires_at),
        (bob, T0, exp)
    );
    assert!(matches!(
        s.get_session(&h1, exp).await,
        Err(StoreError::NotFound { what: "session" })
    ));
    assert!(s.get_session(&token_hash("never"), T0).await.is_err());

    assert_eq!(
        s.delete_expired_sessions(T0 + Duration::hours(2))
            .await
            .unwrap(),
        1
    );
    assert!(s.get_session(&h2, T0).await.is_err(), "expired one is gone");

    s.set_account_disabled(bob, Some(T0)).await.unwrap();
    assert!(
        s.get_session(&h1, T0).await.is_err(),
        "disabled: no session"
    );
    assert!(matches!(
        s.create_session(&token_hash("x"), bob, T0, exp).await,
        Err(StoreError::NotFound { what: "account" })
    ));
    s.set_account_disabled(bob, None).await.unwrap();
    assert!(s.get_session(&h1, T0).await.is_ok());

    assert!(s.delete_session(&h1).await.unwrap());
    assert!(!s.delete_session(&h1).await.unwrap());
    s.create_session(&h1, bob, T0, exp).await.unwrap();
    s.delete_account(bob, T0).await.unwrap();
    assert!(
        s.get_session(&h1, T0).await.is_err(),
        "deleted: sessions dropped"
    );
}

async fn hostnames_unique_lowercase_limited_and_held(b: Backend) {
    let s = &*b.store;
    let (alice, bob) = (account(s, "alice").await, account(s, "bob").await);
    let h = s
        .register_hostname(alice, "MyBox", RULES, T0)
        .await
        .unwrap();
    assert_eq!(
        (h.label.as_str(), h.account_id, h.created_at),
        ("mybox", alice, T0)
    );

    for (who, label) in [(bob, "mybox"), (bob, "MYBOX"), (alice, "mybox")] {
        let err = s.register_hostname(who, label, RULES, T0).await;
        assert!(
            matches!(&err, Err(StoreError::HostnameTaken { label }) if label == "mybox"),
            "{err:?}"
        );
    }
    assert!(matches!(
        s.register_hostname(bob, "bad.label", RULES, T0).await,
        Err(StoreError::InvalidInput { .. })
    ));

    s.register_hostname(alice, "a-2", RULES, T0).await.unwrap();
    s.register_hostname(bob, "zed", RULES, T0).await.unwrap();
    s.register_hostname(alice, "a1", RULES, T0).await.unwrap();
    assert!(matches!(
        s.register_hostname(alice, "fourth", RULES, T0).await,
        Err(StoreError::HostnameLimit { limit: 3 })
    ));
    assert_eq!(s.count_hostnames(alice).await.unwrap(), 3);
    let labels: Vec<String> = s
        .list_hostnames(alice)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.label)
        .collect();
    assert_eq!(labels, ["a-2", "a1", "mybox"], "bytewise order on both");
    assert_eq!(
        s.list_all_labels().await.unwrap(),
        ["a-2", "a1", "mybox", "zed"]
    );

    assert!(matches!(
        s.delete_hostname(bob, "mybox", T0).await,
        Err(StoreError::NotFound { what: "hostname" })
    ));
    let deleted_at = T0 + Duration::days(1);
    s.delete_hostname(alice, "MyBox", deleted_at).await.unwrap();
    assert_eq!(s.count_hostnames(alice).await.unwrap(), 2);
    assert!(!s.list_all_labels().await.unwrap().contains(&"mybox".into()));

    let almost = deleted_at + Duration::days(90) - Duration::seconds(1);
    let err = s.register_hostname(bob, "mybox", RULES, almost).await;
    assert!(
        matches!(&err, Err(StoreError::HostnameHeld { label, until })
            if label == "mybox" && *until == deleted_at + Duration::days(90)),
        "{err:?}"
    );

    // The previous owner may take its name back during the hold.
    let day = |n| deleted_at + Duration::days(n);
    let back = s.register_hostname(alice, "mybox", RULES, day(1)).await;
    assert!(back.is_ok(), "{back:?}");
    s.delete_hostname(alice, "mybox", day(2)).await.unwrap();

    let short = HostnameRules {
        hold: Duration::days(1),
        ..RULES
    };
    assert!(
        s.register_hostname(bob, "mybox", short, day(3))
            .await
            .is_ok(),
        "the hold is a parameter"
    );
    s.delete_hostname(bob, "mybox", day(3)).await.unwrap();
    let carol = account(s, "carol").await;
    assert!(matches!(
        s.register_hostname(carol, "mybox", RULES, day(92)).await,
        Err(StoreError::HostnameHeld { .. })
    ));
    s.register_hostname(carol, "mybox", RULES, day(93))
        .await
        .unwrap();
}

async fn api_keys_listed_revoked_and_consumed_once(b: Backend) {
    let s = &*b.store;
    let (alice, raw) = account_with_key(s, "alice", "box").await;
    let bob = account(s, "bob").await;
    assert!(matches!(
        s.create_api_key(bob, "box", "certd_ak_bo", &token_hash("k2"), T0)
            .await,
        Err(StoreError::NotFound { what: "hostname" })
    ));
    let raw2 = "certd_ak_second_key_value";
    let second = s
        .create_api_key(
            alice,
            "BOX",
            &raw2[..12],
            &token_hash(raw2),
            T0 + Duration::seconds(1),
        )
        .await
        .unwrap();
    assert_eq!(second.hostname, "box");

    let keys = s.list_api_keys(alice).await.unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0].id, second.id, "newest first");
    assert_eq!(keys[1].prefix, &raw[..12]);
    assert!(
        keys.iter()
            .all(|k| k.consumed_at.is_none() && k.revoked_at.is_none())
    );
    assert!(s.list_api_keys(bob).await.unwrap().is_empty());

    assert!(matches!(
        s.consume_api_key(&token_hash("unknown"), T0).await,
        Err(StoreError::ApiKeyNotFound)
    ));
    let used = T0 + Duration::minutes(5);
    let consumed = s.consume_api_key(&token_hash(&raw), used).await.unwrap();
    assert_eq!(
        (consumed.account_id, consumed.hostname.as_str()),
        (alice, "box")
    );
    assert!(matches!(
        s.consume_api_key(&token_hash(&raw), used).await,
        Err(StoreError::ApiKeyConsumed)
    ));
    let listed = s.list_api_keys(alice).await.unwrap();
    let first = listed.iter().find(|k| k.id == consumed.id).unwrap();
    assert_eq!(
        (first.consumed_at, first.last_used_at),
        (Some(used), Some(used))
    );

    assert!(matches!(
        s.revoke_api_key(bob, second.id, T0).await,
        Err(StoreError::NotFound { .. })
    ));
    s.revoke_api_key(alice, second.id, used).await.unwrap();
    s.revoke_api_key(alice, second.id, used + Duration::hours(1))
        .await
        .unwrap();
    let revoked = s.list_api_keys(alice).await.unwrap()[0].clone();
    assert_eq!(revoked.revoked_at, Some(used), "first revocation kept");
    assert!(matches!(
        s.consume_api_key(&token_hash(raw2), used).await,
        Err(StoreError::ApiKeyRevoked)
    ));
}

async fn api_key_consumed_once_under_concurrency(b: Backend) {
    const RACERS: usize = 6;
    let store: Arc<dyn Store> = b.store.clone();
    let (alice, _) = account_with_key(&*store, "alice", "box").await;
    for round in 0..4u8 {
        let raw = format!("certd_ak_race_{round}");
        store
            .create_api_key(alice, "box", "certd_ak_rac", &token_hash(&raw), T0)
            .await
            .unwrap();
        let barrier = Arc::new(Barrier::new(RACERS));
        let tasks: Vec<_> = (0..RACERS)
            .map(|i| {
                let (store, barrier, raw) = (store.clone(), barrier.clone(), raw.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    let pk = key(round * 16 + i as u8);
                    // Half the racers enroll, half only consume: one rule for both.
                    if i % 2 == 0 {
                        store
                            .enroll_device(&token_hash(&raw), &pk, T0)
                            .await
                            .map(|_| ())
                    } else {
                        store
                            .consume_api_key(&token_hash(&raw), T0)
                            .await
                            .map(|_| ())
                    }
                })
            })
            .collect();
        let mut wins = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(()) => wins += 1,
                Err(StoreError::ApiKeyConsumed) => {}
                Err(other) => panic!("round {round}: unexpected {other:?}"),
            }
        }
        assert_eq!(wins, 1, "round {round}: exactly one racer wins");
    }
}

async fn enrollment_is_one_transaction(b: Backend) {
    let s = &*b.store;
    let (alice, raw) = account_with_key(s, "alice", "box").await;
    let device = s
        .enroll_device(&token_hash(&raw), &key(7), T0)
        .await
        .unwrap();
    assert_eq!(
        (
            device.account_id,
            device.hostname.as_str(),
            device.public_key,
            device.created_at
        ),
        (alice, "box", key(7), T0)
    );
    assert_eq!(device.revoked_at, None);
    assert_eq!(s.get_device(device.id).await.unwrap(), device);
    assert!(matches!(
        s.enroll_device(&token_hash(&raw), &key(8), T0).await,
        Err(StoreError::ApiKeyConsumed)
    ));

    // The same public key again: refused, and the second API key stays usable.
    let raw2 = "certd_ak_second";
    s.create_api_key(alice, "box", "certd_ak_sec", &token_hash(raw2), T0)
        .await
        .unwrap();
    assert!(matches!(
        s.enroll_device(&token_hash(raw2), &key(7), T0).await,
        Err(StoreError::DeviceKeyInUse)
    ));
    let second = s
        .enroll_device(&token_hash(raw2), &key(9), T0 + Duration::seconds(1))
        .await;
    let second = second.unwrap();

    let listed = s.list_devices(alice).await.unwrap();
    assert_eq!(listed, [second.clone(), device.clone()], "newest first");
    let bob = account(s, "bob").await;
    assert!(s.list_devices(bob).await.unwrap().is_empty());
    assert!(matches!(
        s.revoke_device(bob, device.id, T0).await,
        Err(StoreError::NotFound { what: "device" })
    ));
    s.revoke_device(alice, device.id, T0 + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(
        s.get_device(device.id).await.unwrap().revoked_at,
        Some(T0 + Duration::hours(1))
    );
    assert!(matches!(
        s.get_device(DeviceId(424_242)).await,
        Err(StoreError::NotFound { what: "device" })
    ));
}

async fn deleting_a_hostname_revokes_its_keys_and_devices(b: Backend) {
    let s = &*b.store;
    let (alice, raw) = account_with_key(s, "alice", "box").await;
    let device = s
        .enroll_device(&token_hash(&raw), &key(1), T0)
        .await
        .unwrap();
    let pending = "certd_ak_pending";
    s.create_api_key(alice, "box", "certd_ak_pen", &token_hash(pending), T0)
        .await
        .unwrap();
    s.register_hostname(alice, "other", RULES, T0)
        .await
        .unwrap();
    let raw_other = "certd_ak_other";
    s.create_api_key(alice, "other", "certd_ak_oth", &token_hash(raw_other), T0)
        .await
        .unwrap();

    let gone = T0 + Duration::days(1);
    s.delete_hostname(alice, "box", gone).await.unwrap();
    assert_eq!(
        s.get_device(device.id).await.unwrap().revoked_at,
        Some(gone)
    );
    assert!(matches!(
        s.consume_api_key(&token_hash(pending), gone).await,
        Err(StoreError::ApiKeyRevoked)
    ));
    assert!(matches!(
        s.create_order(
            NewOrder {
                account_id: alice,
                device_id: Some(device.id),
                hostname: "box",
                csr_der: b"csr"
            },
            gone
        )
        .await,
        Err(StoreError::NotFound { what: "hostname" })
    ));
    assert!(
        s.consume_api_key(&token_hash(raw_other), gone)
            .await
            .is_ok(),
        "other hostnames are untouched"
    );
}

async fn nonces_refuse_replay_until_pruned(b: Backend) {
    let s = &*b.store;
    let (_, raw) = account_with_key(s, "alice", "box").await;
    let d1 = s
        .enroll_device(&token_hash(&raw), &key(1), T0)
        .await
        .unwrap()
        .id;
    let (_, raw_b) = account_with_key(s, "bob", "bobs").await;
    let d2 = s
        .enroll_device(&token_hash(&raw_b), &key(2), T0)
        .await
        .unwrap()
        .id;

    s.use_nonce(d1, "n-1", T0).await.unwrap();
    assert!(matches!(
        s.use_nonce(d1, "n-1", T0 + Duration::seconds(1)).await,
        Err(StoreError::NonceReplayed)
    ));
    s.use_nonce(d2, "n-1", T0).await.unwrap();
    s.use_nonce(d1, "n-2", T0 + Duration::minutes(10))
        .await
        .unwrap();
    assert!(matches!(
        s.use_nonce(DeviceId(777), "n-9", T0).await,
        Err(StoreError::NotFound { what: "device" })
    ));
    assert!(matches!(
        s.use_nonce(d1, &"x".repeat(200), T0).await,
        Err(StoreError::InvalidInput { .. })
    ));

    assert_eq!(s.prune_nonces(T0 + Duration::minutes(5)).await.unwrap(), 2);
    assert!(matches!(
        s.use_nonce(d1, "n-2", T0).await,
        Err(StoreError::NonceReplayed)
    ));
    s.use_nonce(d1, "n-1", T0 + Duration::minutes(11))
        .await
        .unwrap();
}

async fn orders_move_forward_with_compare_and_set(b: Backend) {
    let s = &*b.store;
    let (alice, raw) = account_with_key(s, "alice", "box").await;
    let device = s
        .enroll_device(&token_hash(&raw), &key(1), T0)
        .await
        .unwrap();
    let bob = account(s, "bob").await;
    let new = |account_id, hostname| NewOrder {
        account_id,
        device_id: Some(device.id),
        hostname,
        csr_der: b"\x30\x82csr",
    };
    assert!(matches!(
        s.create_order(new(bob, "box"), T0).await,
        Err(StoreError::NotFound { what: "hostname" })
    ));
    let order = s.create_order(new(alice, "Box"), T0).await.unwrap();
    assert_eq!(order.state, OrderState::Pending);
    assert_eq!(
        (order.hostname.as_str(), order.csr_der.as_slice()),
        ("box", &b"\x30\x82csr"[..])
    );
    assert_eq!((order.created_at, order.updated_at), (T0, T0));
    let other = s.create_order(new(alice, "box"), T0).await.unwrap();

    let t1 = T0 + Duration::seconds(5);
    let published = s
        .update_order(
            order.id,
            &OrderState::Pending,
            &OrderUpdate {
                state: OrderState::ChallengePublished,
                acme_order_url: Some("https://ca.example/order/1".into()),
                challenge_txt: Some("txt-value-1".into()),
                error: None,
            },
            t1,
        )
        .await
        .unwrap();
    assert_eq!(published.state, OrderState::ChallengePublished);
    assert_eq!(published.updated_at, t1);
    assert_eq!(published.challenge_txt.as_deref(), Some("txt-value-1"));
    let challenges = s.list_published_challenges().await.unwrap();
    assert_eq!(challenges.len(), 1);
    assert_eq!(
        (
            challenges[0].order_id,
            challenges[0].hostname.as_str(),
            challenges[0].txt.as_str()
        ),
        (order.id, "box", "txt-value-1")
    );

    let stale = s
        .update_order(
            order.id,
            &OrderState::Pending,
            &OrderUpdate::to(OrderState::Ready),
            t1,
        )
        .await;
    assert!(
        matches!(
            stale,
            Err(StoreError::StaleState {
                expected: "pending",
                actual: "challenge_published",
                ..
            })
        ),
        "{stale:?}"
    );
    let illegal = s
        .update_order(
            order.id,
            &OrderState::ChallengePublished,
            &OrderUpdate::to(OrderState::Pending),
            t1,
        )
        .await;
    assert!(
        matches!(illegal, Err(StoreError::IllegalTransition { .. })),
        "{illegal:?}"
    );

    let ready = s
        .update_order(
            order.id,
            &OrderState::ChallengePublished,
            &OrderUpdate::to(OrderState::Ready),
            t1,
        )
        .await
        .unwrap();
    assert_eq!(
        ready.acme_order_url.as_deref(),
        Some("https://ca.example/order/1"),
        "None keeps stored values"
    );
    assert!(s.list_published_challenges().await.unwrap().is_empty());

    let unfinished: Vec<_> = s
        .list_unfinished_orders()
        .await
        .unwrap()
        .into_iter()
        .map(|o| (o.id, o.state))
        .collect();
    assert_eq!(
        unfinished,
        [
            (order.id, OrderState::Ready),
            (other.id, OrderState::Pending)
        ],
        "oldest first, for resuming"
    );

    s.update_order(
        order.id,
        &OrderState::Ready,
        &OrderUpdate::to(OrderState::Valid),
        t1,
    )
    .await
    .unwrap();
    let reason = "restarted mid-order; the CA order expired".to_owned();
    let failed = s
        .update_order(
            other.id,
            &OrderState::Pending,
            &OrderUpdate::to(OrderState::Failed {
                reason: reason.clone(),
            }),
            t1,
        )
        .await
        .unwrap();
    assert_eq!(
        failed.state,
        OrderState::Failed {
            reason: reason.clone()
        }
    );
    assert_eq!(s.get_order(other.id).await.unwrap().error, Some(reason));
    assert!(s.list_unfinished_orders().await.unwrap().is_empty());
    assert!(matches!(
        s.update_order(
            order.id,
            &OrderState::Valid,
            &OrderUpdate::to(OrderState::Invalid),
            t1
        )
        .await,
        Err(StoreError::IllegalTransition {
            from: "valid",
            to: "invalid",
            ..
        })
    ));
    assert!(matches!(
        s.update_order(
            certd_store::OrderId(9999),
            &OrderState::Pending,
            &OrderUpdate::to(OrderState::Ready),
            t1
        )
        .await,
        Err(StoreError::NotFound { what: "order" })
    ));
}

async fn order_race_has_one_winner(b: Backend) {
    let store: Arc<dyn Store> = b.store.clone();
    let (alice, _) = account_with_key(&*store, "alice", "box").await;
    let order = store
        .create_order(
            NewOrder {
                account_id: alice,
                device_id: None,
                hostname: "box",
                csr_der: b"csr",
            },
            T0,
        )
        .await
        .unwrap();
    let barrier = Arc::new(Barrier::new(4));
    let tasks: Vec<_> = (0..4)
        .map(|i| {
            let (store, barrier) = (store.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let update = OrderUpdate {
                    challenge_txt: Some(format!("worker-{i}")),
                    ..OrderUpdate::to(OrderState::ChallengePublished)
                };
                store
                    .update_order(order.id, &OrderState::Pending, &update, T0)
                    .await
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(o) => winners.push(o.challenge_txt),
            Err(StoreError::StaleState { .. }) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let stored = store.get_order(order.id).await.unwrap();
    assert_eq!(
        stored.challenge_txt, winners[0],
        "the winner's value is stored"
    );
}

async fn certificates_and_weekly_budget(b: Backend) {
    let s = &*b.store;
    let (alice, _) = account_with_key(s, "alice", "box").await;
    let (bob, _) = account_with_key(s, "bob", "bobs").await;
    let now = T0 + Duration::days(30);
    let cert = |serial, account_id, hostname, replaces| NewCertificate {
        serial,
        account_id,
        hostname,
        order_id: None,
        replaces,
        not_before: now - Duration::hours(1),
        not_after: now + Duration::days(90),
        chain_pem: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    };
    let issued = [
        ("0a01", alice, "box", None, now - Duration::days(8)),
        ("0A02", alice, "box", None, now - Duration::days(6)),
        ("0a03", bob, "bobs", None, now - Duration::days(1)),
        ("0a04", alice, "box", Some("0a02"), now - Duration::hours(1)),
        ("0a05", alice, "box", None, now),
    ];
    for (serial, account_id, hostname, replaces, at) in issued {
        s.insert_certificate(cert(serial, account_id, hostname, replaces), at)
            .await
            .unwrap();
    }
    assert!(matches!(
        s.insert_certificate(cert("0b01", bob, "box", None), now)
            .await,
        Err(StoreError::NotFound { what: "hostname" })
    ));
    let week_ago = now - Duration::days(7);
    assert_eq!(
        s.count_certificates_issued_since(week_ago).await.unwrap(),
        3,
        "0a02, 0a03, 0a05: older ones and ARI renewals do not count"
    );
    assert_eq!(
        s.count_certificates_for_hostname_since("BOX", week_ago)
            .await
            .unwrap(),
        2
    );

    let listed: Vec<String> = s
        .list_certificates(alice)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.serial)
        .collect();
    assert_eq!(listed, ["0a05", "0a04", "0a02", "0a01"], "newest first");
    let got = s.get_certificate("0A04").await.unwrap();
    assert_eq!(
        (
            got.account_id,
            got.hostname.as_str(),
            got.replaces.as_deref(),
            got.issued_at
        ),
        (alice, "box", Some("0a02"), now - Duration::hours(1))
    );
    assert_eq!(got.not_after, now + Duration::days(90));

    s.revoke_certificate("0a04", now).await.unwrap();
    s.revoke_certificate("0a04", now + Duration::days(1))
        .await
        .unwrap();
    assert_eq!(
        s.get_certificate("0a04").await.unwrap().revoked_at,
        Some(now)
    );
    assert!(matches!(
        s.revoke_certificate("ffff", now).await,
        Err(StoreError::NotFound {
            what: "certificate"
        })
    ));
    assert!(matches!(
        s.get_certificate("not-hex").await,
        Err(StoreError::InvalidInput { .. })
    ));

    // A deleted hostname's certificates stay listed, and a late certificate still lands.
    s.delete_hostname(alice, "box", now).await.unwrap();
    s.insert_certificate(cert("0a06", alice, "box", None), now + Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(s.list_certificates(alice).await.unwrap().len(), 5);
}

async fn audit_trail_newest_first(b: Backend) {
    let s = &*b.store;
    let (alice, bob) = (account(s, "alice").await, account(s, "bob").await);
    let v4: IpAddr = "192.0.2.7".parse().unwrap();
    let v6: IpAddr = "2001:db8::1".parse().unwrap();
    let event = |at, actor, subject, action, outcome| NewAuditEvent {
        at,
        actor,
        subject,
        client_addr: Some(v4),
        action,
        target: Some("box"),
        outcome,
    };
    let denied = Outcome::Denied {
        reason: "bad password".into(),
    };
    let events = [
        event(T0, Some(alice), None, "account.create", Outcome::Ok),
        event(
            T0 + Duration::seconds(2),
            None,
            Some(alice),
            "login",
            denied.clone(),
        ),
        event(
            T0 + Duration::seconds(1),
            Some(bob),
            None,
            "hostname.register",
            Outcome::Ok,
        ),
        event(
            T0 + Duration::seconds(2),
            Some(alice),
            None,
            "login",
            Outcome::Ok,
        ),
        event(
            T0 + Duration::seconds(3),
            Some(alice),
            None,
            "csr.sign",
            Outcome::Error {
                reason: "CA said no".into(),
            },
        ),
    ];
    for e in &events {
        s.append_audit(e).await.unwrap();
    }
    s.append_audit(&NewAuditEvent {
        client_addr: Some(v6),
        target: None,
        ..event(
            T0 - Duration::days(1),
            Some(alice),
            None,
            "x".repeat(500).as_str(),
            Outcome::Ok,
        )
    })
    .await
    .unwrap();

    let trail = s.list_audit(alice, 100).await.unwrap();
    let actions: Vec<&str> = trail.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions.len(), 5);
    assert_eq!(
        actions[..4],
        ["csr.sign", "login", "login", "account.create"],
        "newest first; equal times by insertion, newest first"
    );
    assert_eq!(
        actions[4].len(),
        64,
        "long action codes are clipped, not refused"
    );
    assert_eq!(trail[1].outcome, Outcome::Ok, "the later of the two logins");
    assert_eq!(trail[2].outcome, denied);
    assert_eq!((trail[2].actor, trail[2].subject), (None, Some(alice)));
    assert_eq!(trail[0].client_addr, Some(v4));
    assert_eq!(trail[0].target.as_deref(), Some("box"));
    assert_eq!(trail[4].client_addr, Some(v6));
    assert_eq!(trail[4].target, None);
    assert!(trail.windows(2).all(|w| w[0].at >= w[1].at));

    let limited = s.list_audit(alice, 2).await.unwrap();
    assert_eq!(limited, trail[..2]);
    let bobs = s.list_audit(bob, 100).await.unwrap();
    assert_eq!(bobs.len(), 1);
    assert_eq!(bobs[0].at, T0 + Duration::seconds(1));
}

async fn reopen_keeps_data_and_refuses_newer_schema(b: Backend) {
    let alice = account(&*b.store, "alice").await;
    let again = b.reopen().await.unwrap();
    assert_eq!(again.get_account(alice).await.unwrap().username, "alice");
    again.close().await;

    let future = SCHEMA_VERSION + 41;
    let insert = if b.is_sqlite() {
        format!(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES ({future}, 'from the future', TRUE, X'00', 0)"
        )
    } else {
        format!(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES ({future}, 'from the future', TRUE, '\\x00', 0)"
        )
    };
    b.execute(&insert).await;
    let err = b.reopen().await.unwrap_err();
    assert!(
        matches!(err, StoreError::SchemaTooNew { db, binary } if db == future && binary == SCHEMA_VERSION),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&future.to_string()) && text.contains(&SCHEMA_VERSION.to_string()),
        "{text}"
    );
    assert_eq!(
        b.store.get_account(alice).await.unwrap().username,
        "alice",
        "the refusal touched nothing"
    );
}

async fn disk_holds_no_plaintext_secret(b: Backend) {
    let s = &*b.store;
    // Raw secrets as the service would hand them to users; only their hashes go in.
    let api_key = "certd_ak_7Hq2mXvR9sKpLw3NzT8bYc4D";
    let session = "certd_sess_Q1w2E3r4T5y6U7i8O9p0";
    let email_link = "certd_em_Zx9Cv8Bn7Mq6Wt5Ey4Ru3";
    let alice = account(s, "alice").await;
    s.register_hostname(alice, "box", RULES, T0).await.unwrap();
    s.create_api_key(alice, "box", &api_key[..12], &token_hash(api_key), T0)
        .await
        .unwrap();
    s.enroll_device(&token_hash(api_key), &key(3), T0)
        .await
        .unwrap();
    s.create_session(&token_hash(session), alice, T0, T0 + Duration::hours(1))
        .await
        .unwrap();
    s.create_email_token(
        alice,
        EmailPurpose::ResetPassword,
        "alice@example.org",
        &token_hash(email_link),
        T0,
        T0 + Duration::hours(1),
    )
    .await
    .unwrap();
    b.store.close().await;

    let disk = b.disk_files().await;
    assert!(
        contains(&disk, &sha256_hex(api_key)),
        "sanity: the scan sees what the store wrote"
    );
    assert!(
        contains(&disk, &api_key[..12]),
        "the display prefix is stored"
    );
    assert!(
        contains(&disk, &sha256_hex(email_link)),
        "sanity: the email link's hash is stored"
    );
    for secret in [api_key, &api_key[12..], session, email_link] {
        assert!(!contains(&disk, secret), "{secret} is on disk");
    }
}

/// Stores a link for `account` sent to its `<name>@example.org`, valid for an hour from `at`.
async fn email_link(
    store: &dyn Store,
    account: AccountId,
    purpose: EmailPurpose,
    raw: &str,
    at: OffsetDateTime,
) {
    let email = store.get_account(account).await.unwrap().email;
    store
        .create_email_token(
            account,
            purpose,
            &email,
            &token_hash(raw),
            at,
            at + Duration::hours(1),
        )
        .await
        .unwrap();
}

fn is_not_found(result: &Result<EmailToken, StoreError>) -> bool {
    matches!(
        result,
        Err(StoreError::NotFound {
            what: "email token"
        })
    )
}

async fn email_tokens_consumed_once_and_expire(b: Backend) {
    let s = &*b.store;
    let alice = account(s, "alice").await;
    use EmailPurpose::{ResetPassword, Verify};
    email_link(s, alice, Verify, "link-verify", T0).await;

    let wrong = s
        .consume_email_token(&token_hash("link-verify"), ResetPassword, T0)
        .await;
    assert!(is_not_found(&wrong), "wrong purpose: {wrong:?}");
    let unknown = s
        .consume_email_token(&token_hash("never-sent"), Verify, T0)
        .await;
    assert!(is_not_found(&unknown), "{unknown:?}");

    let used = T0 + Duration::minutes(10);
    let token = s
        .consume_email_token(&token_hash("link-verify"), Verify, used)
        .await
        .unwrap();
    assert_eq!(
        token,
        EmailToken {
            account_id: alice,
            purpose: Verify,
            email: "alice@example.org".into(),
            created_at: T0,
            expires_at: T0 + Duration::hours(1),
        },
        "a wrong-purpose attempt did not spend it; microseconds survive"
    );
    let again = s
        .consume_email_token(&token_hash("link-verify"), Verify, used)
        .await;
    assert!(is_not_found(&again), "second use: {again:?}");

    email_link(s, alice, ResetPassword, "link-reset", T0).await;
    let expiry = T0 + Duration::hours(1);
    let expired = s
        .consume_email_token(&token_hash("link-reset"), ResetPassword, expiry)
        .await;
    assert!(is_not_found(&expired), "at expires_at: {expired:?}");
    let just_before = s
        .consume_email_token(
            &token_hash("link-reset"),
            ResetPassword,
            expiry - Duration::microseconds(1),
        )
        .await;
    assert!(just_before.is_ok(), "{just_before:?}");

    assert!(matches!(
        s.create_email_token(
            AccountId(999_999),
            Verify,
            "x@example.org",
            &token_hash("orphan"),
            T0,
            expiry
        )
        .await,
        Err(StoreError::NotFound { what: "account" })
    ));
    assert!(matches!(
        s.create_email_token(alice, Verify, "", &token_hash("no-address"), T0, expiry)
            .await,
        Err(StoreError::InvalidInput { what: "email", .. })
    ));
}

async fn consuming_an_email_token_spends_its_siblings(b: Backend) {
    let s = &*b.store;
    use EmailPurpose::{ResetPassword, Verify};
    let (alice, bob) = (account(s, "alice").await, account(s, "bob").await);
    for (i, raw) in ["reset-1", "reset-2", "reset-3"].into_iter().enumerate() {
        email_link(
            s,
            alice,
            ResetPassword,
            raw,
            T0 + Duration::minutes(i as i64),
        )
        .await;
    }
    email_link(s, alice, Verify, "alice-verify", T0).await;
    email_link(s, bob, ResetPassword, "bob-reset", T0).await;

    let now = T0 + Duration::minutes(5);
    let token = s
        .consume_email_token(&token_hash("reset-2"), ResetPassword, now)
        .await
        .unwrap();
    assert_eq!(token.created_at, T0 + Duration::minutes(1));
    for sibling in ["reset-1", "reset-3"] {
        let result = s
            .consume_email_token(&token_hash(sibling), ResetPassword, now)
            .await;
        assert!(is_not_found(&result), "{sibling}: {result:?}");
    }
    let verify = s
        .consume_email_token(&token_hash("alice-verify"), Verify, now)
        .await;
    assert!(verify.is_ok(), "other purpose untouched: {verify:?}");
    let bobs = s
        .consume_email_token(&token_hash("bob-reset"), ResetPassword, now)
        .await;
    assert_eq!(bobs.unwrap().account_id, bob, "other account untouched");

    email_link(s, alice, ResetPassword, "reset-4", now).await;
    assert!(
        s.consume_email_token(&token_hash("reset-4"), ResetPassword, now)
            .await
            .is_ok(),
        "a link sent after one was used works"
    );
}

async fn email_token_consumed_once_under_concurrency(b: Backend) {
    const RACERS: usize = 8;
    let store: Arc<dyn Store> = b.store.clone();
    let alice = account(&*store, "alice").await;
    for round in 0..4usize {
        // Four sibling links, two racers each: one link may win, and it spends the rest.
        let links: Vec<String> = (0..4).map(|i| format!("race-{round}-{i}")).collect();
        for raw in &links {
            email_link(&*store, alice, EmailPurpose::ResetPassword, raw, T0).await;
        }
        let barrier = Arc::new(Barrier::new(RACERS));
        let tasks: Vec<_> = (0..RACERS)
            .map(|i| {
                let (store, barrier) = (store.clone(), barrier.clone());
                // Round 0: everyone races for the same link; later rounds spread out.
                let raw = links[if round == 0 { 0 } else { i % links.len() }].clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    store
                        .consume_email_token(&token_hash(&raw), EmailPurpose::ResetPassword, T0)
                        .await
                })
            })
            .collect();
        let mut wins = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(token) => {
                    assert_eq!(token.account_id, alice);
                    wins += 1;
                }
                Err(StoreError::NotFound {
                    what: "email token",
                }) => {}
                Err(other) => panic!("round {round}: unexpected {other:?}"),
            }
        }
        assert_eq!(wins, 1, "round {round}: exactly one racer wins");
    }
}

async fn update_email_clears_verification_and_spends_every_link(b: Backend) {
    let s = &*b.store;
    use EmailPurpose::{ResetPassword, Verify};
    let alice = account(s, "alice").await;
    s.mark_email_verified(alice, "alice@example.org", T0)
        .await
        .unwrap();
    email_link(s, alice, Verify, "old-verify", T0).await;
    email_link(s, alice, ResetPassword, "reset", T0).await;

    s.update_email(alice, "alice@new.example").await.unwrap();
    let found = s.get_account(alice).await.unwrap();
    assert_eq!(found.email, "alice@new.example");
    assert_eq!(found.email_verified_at, None, "the new address is unproven");
    let old = s
        .consume_email_token(&token_hash("old-verify"), Verify, T0)
        .await;
    assert!(is_not_found(&old), "a link to the old address: {old:?}");
    // A reset link in the old mailbox must not outlive the change (the owner may be
    // moving away from a mailbox someone else reads).
    let reset = s
        .consume_email_token(&token_hash("reset"), ResetPassword, T0)
        .await;
    assert!(is_not_found(&reset), "a reset link sent before: {reset:?}");
    assert_eq!(
        s.count_email_tokens_since(alice, Verify, T0).await.unwrap(),
        1,
        "spent links still count toward resend limits"
    );

    email_link(s, alice, Verify, "new-verify", T0).await;
    let token = s
        .consume_email_token(&token_hash("new-verify"), Verify, T0)
        .await
        .unwrap();
    assert_eq!(token.email, "alice@new.example");

    assert!(matches!(
        s.update_email(AccountId(999_999), "x@example.org").await,
        Err(StoreError::NotFound { what: "account" })
    ));
    assert!(matches!(
        s.update_email(alice, &"x".repeat(300)).await,
        Err(StoreError::InvalidInput { what: "email", .. })
    ));
    s.delete_account(alice, T0).await.unwrap();
    assert!(matches!(
        s.update_email(alice, "x@example.org").await,
        Err(StoreError::NotFound { what: "account" })
    ));
}

async fn deleting_an_account_spends_its_email_tokens(b: Backend) {
    let s = &*b.store;
    use EmailPurpose::{ResetPassword, Verify};
    let (alice, bob) = (account(s, "alice").await, account(s, "bob").await);
    email_link(s, alice, Verify, "alice-verify", T0).await;
    email_link(s, alice, ResetPassword, "alice-reset", T0).await;
    email_link(s, bob, ResetPassword, "bob-reset", T0).await;

    s.delete_account(alice, T0).await.unwrap();
    for (raw, purpose) in [("alice-verify", Verify), ("alice-reset", ResetPassword)] {
        let result = s.consume_email_token(&token_hash(raw), purpose, T0).await;
        assert!(is_not_found(&result), "{raw}: {result:?}");
    }
    assert!(matches!(
        s.create_email_token(
            alice,
            Verify,
            "alice@example.org",
            &token_hash("late"),
            T0,
            T0 + Duration::hours(1)
        )
        .await,
        Err(StoreError::NotFound { what: "account" })
    ));
    assert!(
        s.consume_email_token(&token_hash("bob-reset"), ResetPassword, T0)
            .await
            .is_ok()
    );
}

async fn email_tokens_counted_and_pruned(b: Backend) {
    let s = &*b.store;
    use EmailPurpose::{ResetPassword, Verify};
    let (alice, bob) = (account(s, "alice").await, account(s, "bob").await);
    let minute = |n| T0 + Duration::minutes(n);
    for n in 0..4 {
        email_link(s, alice, Verify, &format!("verify-{n}"), minute(n * 10)).await;
    }
    email_link(s, alice, ResetPassword, "reset", minute(5)).await;
    email_link(s, bob, Verify, "bob-verify", minute(30)).await;
    s.consume_email_token(&token_hash("verify-3"), Verify, minute(31))
        .await
        .unwrap();

    let counted = |account, purpose, since| s.count_email_tokens_since(account, purpose, since);
    assert_eq!(
        counted(alice, Verify, T0).await.unwrap(),
        4,
        "used ones too"
    );
    assert_eq!(
        counted(alice, Verify, minute(10)).await.unwrap(),
        3,
        "at or after"
    );
    assert_eq!(counted(alice, Verify, minute(11)).await.unwrap(), 2);
    assert_eq!(counted(alice, ResetPassword, T0).await.unwrap(), 1);
    assert_eq!(counted(bob, Verify, T0).await.unwrap(), 1);
    assert_eq!(counted(bob, ResetPassword, T0).await.unwrap(), 0);

    // Links live an hour: verify-0 expires at minute 60, reset at 65, verify-1 at 70.
    assert_eq!(s.prune_email_tokens(minute(60)).await.unwrap(), 0, "before");
    assert_eq!(s.prune_email_tokens(minute(66)).await.unwrap(), 2);
    assert_eq!(counted(alice, Verify, T0).await.unwrap(), 3);
    assert_eq!(counted(alice, ResetPassword, T0).await.unwrap(), 0);
    assert_eq!(
        s.prune_email_tokens(minute(1000)).await.unwrap(),
        4,
        "used or not"
    );
    assert_eq!(counted(alice, Verify, T0).await.unwrap(), 0);
}

async fn sessions_of_an_account_deleted_but_one(b: Backend) {
    let s = &*b.store;
    let (alice, bob) = (account(s, "alice").await, account(s, "bob").await);
    let exp = T0 + Duration::hours(12);
    for raw in ["alice-1", "alice-2", "alice-3"] {
        s.create_session(&token_hash(raw), alice, T0, exp)
            .await
            .unwrap();
    }
    s.create_session(&token_hash("bob-1"), bob, T0, exp)
        .await
        .unwrap();

    let kept = token_hash("alice-2");
    assert_eq!(
        s.delete_sessions_of_account(alice, Some(&kept))
            .await
            .unwrap(),
        2
    );
    assert!(s.get_session(&kept, T0).await.is_ok(), "the kept one lives");
    for gone in ["alice-1", "alice-3"] {
        assert!(
            s.get_session(&token_hash(gone), T0).await.is_err(),
            "{gone}"
        );
    }
    assert!(s.get_session(&token_hash("bob-1"), T0).await.is_ok());

    assert_eq!(
        s.delete_sessions_of_account(alice, Some(&token_hash("bob-1")))
            .await
            .unwrap(),
        1,
        "keeping another account's session keeps nothing of this one's"
    );
    assert!(
        s.get_session(&token_hash("bob-1"), T0).await.is_ok(),
        "and never touches the other account"
    );
    s.create_session(&token_hash("alice-4"), alice, T0, exp)
        .await
        .unwrap();
    assert_eq!(s.delete_sessions_of_account(alice, None).await.unwrap(), 1);
    assert_eq!(s.delete_sessions_of_account(alice, None).await.unwrap(), 0);
    assert_eq!(
        s.delete_sessions_of_account(AccountId(999_999), None)
            .await
            .unwrap(),
        0
    );
}
