//! The `seecret` server and CLI, built inside this package so the black-box tests can name it
//! (`CARGO_BIN_EXE_tested-seecret`) and cargo builds it before running them.

fn main() -> std::process::ExitCode {
    seecret_server::main_entry()
}
