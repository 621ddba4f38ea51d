//! `opsflux`: parses the command line and runs it; everything else lives in the library.

fn main() -> std::process::ExitCode {
    opsflux_api::cli::main()
}
