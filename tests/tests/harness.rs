//! The harness itself: it runs the binaries cargo built for these tests, and no process a test
//! starts outlives the test, even when the test panics.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use seecret_tests::{KillOnDrop, Server, process_exists, seecret_bin, workspace_bin};

#[test]
fn the_harness_runs_the_binaries_cargo_built_for_these_tests() {
    assert_eq!(
        seecret_bin(),
        PathBuf::from(env!("CARGO_BIN_EXE_tested-seecret"))
    );
    assert_eq!(
        workspace_bin("seecret-slack"),
        PathBuf::from(env!("CARGO_BIN_EXE_tested-seecret-slack"))
    );
    assert_eq!(
        workspace_bin("seecret-discord"),
        PathBuf::from(env!("CARGO_BIN_EXE_tested-seecret-discord"))
    );
}

#[test]
fn a_panicking_test_leaves_no_server_behind() {
    let pid = Arc::new(Mutex::new(None));
    let seen = pid.clone();
    // A test body that starts a server and then fails.
    let failed = std::thread::spawn(move || {
        let server = Server::start();
        *seen.lock().unwrap() = Some(server.pid());
        assert!(process_exists(server.pid()));
        panic!("the test fails while its server runs");
    })
    .join();
    assert!(failed.is_err(), "the test body was meant to panic");
    let pid = pid.lock().unwrap().expect("the server started");
    assert!(!process_exists(pid), "server {pid} outlived its test");
}

#[test]
fn a_panicking_test_leaves_no_guarded_child_behind() {
    let pid = Arc::new(Mutex::new(None));
    let seen = pid.clone();
    let failed = std::thread::spawn(move || {
        // How the suites start outside programs (redis-server, moto, receivers): guarded at once,
        // with no inherited output.
        let child = KillOnDrop(
            Command::new("sleep")
                .arg("600")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        *seen.lock().unwrap() = Some(child.id());
        panic!("the test fails while its child runs");
    })
    .join();
    assert!(failed.is_err(), "the test body was meant to panic");
    let pid = pid.lock().unwrap().expect("the child started");
    assert!(!process_exists(pid), "child {pid} outlived its test");
}
