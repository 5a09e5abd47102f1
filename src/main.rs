//! The `calsync` binary: see [`cli`] for the commands and exit codes.
#![forbid(unsafe_code)]

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
