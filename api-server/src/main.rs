//! `seecret`: the server and the command-line client; everything is in the library.

fn main() -> std::process::ExitCode {
    seecret_server::main_entry()
}
