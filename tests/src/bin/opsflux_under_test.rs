//! The `opsflux` program, built inside the tests package so tests can start and kill it.

fn main() -> std::process::ExitCode {
    opsflux_api::cli::main()
}
