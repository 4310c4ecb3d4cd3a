//! The command line as a user meets it: help, usage errors, AWS options, and the real binary
//! reaching each emulator.

use crate::support;

/// The harness itself: each emulator starts on 127.0.0.1 and answers the SDK.
#[tokio::test]
async fn harness_reaches_every_emulator() {
    let ferro = support::ferrokinesis();
    let name = support::unique_name("cli-ferro");
    ferro.create_stream(&name, 2).await;
    let listed = ferro.kinesis().await.list_streams().send().await.unwrap();
    assert!(listed.stream_names().contains(&name));

    let mock = support::kinesis_mock();
    let name = support::unique_name("cli-mock");
    mock.create_stream(&name, 1).await;
    let listed = mock.kinesis().await.list_streams().send().await.unwrap();
    assert!(listed.stream_names().contains(&name));

    let moto = support::moto();
    let role = support::unique_name("cli-role");
    moto.iam()
        .await
        .create_role()
        .role_name(&role)
        .assume_role_policy_document("{}")
        .send()
        .await
        .unwrap();
    let roles = moto.iam().await.list_roles().send().await.unwrap();
    assert!(roles.roles().iter().any(|r| r.role_name() == role));
}
