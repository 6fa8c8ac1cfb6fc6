use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = ombud::cli::Cli::parse();
    ombud::cli::main(cli)
}
