use clap::Parser;

/// mimalloc instead of glibc's malloc: allocation was the largest single cost
/// in the message path's profile, and with mimalloc the server spends 15 % less
/// CPU per message (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = ombud::cli::Cli::parse();
    ombud::cli::main(cli)
}
