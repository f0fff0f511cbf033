//! Server configuration and the token field, on both LXD profiles.

use clients::Service;
use clients::lxd::{ApiExtensions, LxdApi, ServerPut, TokenField};
use simulators::LxdProfile;

use crate::support::*;

async fn server_config(profile: LxdProfile) {
    let sim = sim(1, profile).await;
    let c = lxd(&sim, "node1");
    c.ready().await.unwrap();
    let server = c.server(None).await.unwrap();
    let etag = server.etag.clone().expect("GET /1.0 carries an ETag");
    assert_eq!(server.value.api_extensions, profile.extensions());
    assert_eq!(server.value.api_version, "1.0");
    assert_eq!(server.value.auth, "trusted");
    assert_eq!(
        server.value.environment.server_version,
        profile.server_version()
    );
    assert!(!server.value.environment.server_clustered);

    // The token field comes from the extensions and the version.
    let extensions: ApiExtensions = c.api_extensions().await.unwrap();
    let (field, async_creates) = match profile {
        LxdProfile::Legacy => (TokenField::Password, false),
        LxdProfile::Current => (TokenField::Explicit, true),
    };
    assert_eq!(server.value.token_field(), field);
    assert_eq!(
        extensions.has("storage_and_network_operations"),
        async_creates
    );

    // PATCH with the ETag merges.
    c.patch_server(
        &ServerPut {
            config: map(&[("user.microcloud", "test")]),
        },
        None,
        Some(&etag),
    )
    .await
    .unwrap();
    let patched = c.server(None).await.unwrap();
    assert_eq!(patched.value.config_str("user.microcloud"), Some("test"));
    let new_etag = patched.etag.clone().unwrap();
    assert_ne!(new_etag, etag);

    // The first ETag is stale now: 412, which retrying cannot fix.
    let e = c
        .patch_server(
            &ServerPut {
                config: map(&[("user.other", "1")]),
            },
            None,
            Some(&etag),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(412));
    assert!(!e.is_transient());
    assert_eq!(
        context_of(&e),
        ctx(Service::Lxd, "node1", http::Method::PATCH, "/1.0")
    );
    // LXD quotes the ETag header and compares unquoted values.
    assert_eq!(
        e.to_string(),
        format!(
            "LXD on node node1, PATCH /1.0: the service answered 412: ETag doesn't match: {} vs {}",
            etag.trim_matches('"'),
            new_etag.trim_matches('"')
        )
    );

    // PUT replaces the whole configuration.
    c.put_server(
        &ServerPut {
            config: map(&[("user.replaced", "yes")]),
        },
        None,
        Some(&new_etag),
    )
    .await
    .unwrap();
    let replaced = c.server(None).await.unwrap().value;
    assert_eq!(
        replaced.config.keys().collect::<Vec<_>>(),
        ["user.replaced"]
    );

    // An unknown key is a 400.
    let e = c
        .patch_server(
            &ServerPut {
                config: map(&[("bogus.key", "1")]),
            },
            None,
            None,
        )
        .await
        .unwrap_err();
    assert_eq!((e.status(), e.is_transient()), (Some(400), false), "{e}");
    assert_eq!(
        e.to_string(),
        "LXD on node node1, PATCH /1.0: the service answered 400: cannot set 'bogus.key' to '1': unknown key"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_get_patch_put_etag_and_token_field_legacy() {
    server_config(LxdProfile::Legacy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_get_patch_put_etag_and_token_field_current() {
    server_config(LxdProfile::Current).await;
}
