//! The PushSecret controller's Secret watch starts without listing every Secret; a source change
//! made while the watch was down (and its place compacted away) still reaches the remote copy.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails

mod common;
mod ps_support;

use std::time::{Duration, Instant};

use common::{Env, apply, value};
use esox_testcluster::FaultMatch;
use ps_support::{patch_source, ps_ready, remote_where, setup};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_change_made_while_the_watch_was_down_still_arrives() {
    let env = Env::start_in_memory().await;
    setup(&env).await;
    let c = &env.client;
    apply(
        c,
        r#"
apiVersion: external-secrets.io/v1alpha1
kind: PushSecret
metadata: {name: watched, namespace: app}
spec:
  refreshInterval: 1h
  secretStoreRefs: [{name: k8s}]
  selector: {secret: {name: src}}
  data:
    - match: {remoteRef: {remoteKey: copy}}
"#,
    )
    .await;
    ps_ready(c, "app", "watched", "True", Duration::from_secs(15))
        .await
        .expect("Ready");
    let has = |v: &'static str| {
        move |s: Option<&k8s_openapi::api::core::v1::Secret>| {
            s.and_then(|s| value(s, "password")).as_deref() == Some(v.as_bytes())
        }
    };
    assert!(remote_where(c, "remote", "copy", Duration::from_secs(5), has("first")).await);

    // A watch the server ends is resumed where it stopped.
    env.cluster.cut_watches();
    patch_source(c, "app", "src", "password", "second").await;
    assert!(
        remote_where(c, "remote", "copy", Duration::from_secs(10), has("second")).await,
        "a change after a cut watch arrives"
    );

    // No Secret watch can start; the change is made while nobody watches, then the history
    // the watch would resume from is compacted away (410 Gone): only a full list finds it.
    let fault = env.cluster.faults().fail(
        FaultMatch {
            verb: Some("watch".into()),
            resource: Some("secrets".into()),
            namespace: None,
            name: None,
        },
        500,
        None,
    );
    env.cluster.cut_watches();
    // The change is made once a new Secret watch has been refused: nobody watches then.
    let refused = common::wait_until(Duration::from_secs(10), || async {
        (env.cluster.faults().hits(fault) > 0).then_some(())
    })
    .await;
    assert!(refused.is_some(), "the cut watch tries to resume");
    patch_source(c, "app", "src", "password", "third").await;
    env.cluster.compact().await.unwrap();
    env.cluster.faults().remove(fault);
    let started = Instant::now();
    assert!(
        remote_where(c, "remote", "copy", Duration::from_secs(40), has("third")).await,
        "a change made while the watch was down arrives after the re-list"
    );
    println!(
        "change made during the gap arrived {:?} after the watch could resume",
        started.elapsed()
    );
}
