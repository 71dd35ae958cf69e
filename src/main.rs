//! The `xskfwd` binary: parse the command line, run, report errors in one
//! line with what to do — never a panic or a backtrace.

#![forbid(unsafe_code)]

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command as Process, ExitCode};

use anyhow::{bail, Context, Result};
use xskfwd::cli::{Cli, Command, ConfigCommand};

fn main() -> ExitCode {
    let cli = Cli::parse_with_sources();
    let result = match cli.command {
        Command::Run(args) => match args.to_config() {
            Ok(config) => {
                xskfwd::log::init(config.log_format(), config.log_level());
                xskfwd::app::run(&config, config.netns()).map(|s| {
                    if s.conserved() {
                        ExitCode::SUCCESS
                    } else {
                        xskfwd::error!(
                            "summary",
                            "frame accounting failed (a bug): see the summary above"
                        );
                        ExitCode::from(3)
                    }
                })
            }
            Err(e) => Err(anyhow::Error::new(e)),
        },
        Command::Routes(args) => xskfwd::app::routes(&args).map(|()| ExitCode::SUCCESS),
        Command::Status(args) => xskfwd::ops::client::status(&args).map(|()| ExitCode::SUCCESS),
        Command::Trace(args) => xskfwd::ops::client::trace(&args).map(|()| ExitCode::SUCCESS),
        Command::Config(ConfigCommand::Check(args)) => args
            .check()
            .map(|toml| {
                print!("{toml}");
                ExitCode::SUCCESS
            })
            .map_err(anyhow::Error::new),
        Command::Completions(args) => {
            let mut script = Vec::new();
            xskfwd::cli::completions(args.shell, &mut script);
            print_all(&script)
        }
        Command::Man => {
            let mut page = Vec::new();
            xskfwd::cli::man_page(&mut page)
                .context("rendering the man page")
                .and_then(|()| print_all(&page))
        }
        ref tool => {
            let (name, args) = tool.lab_tool().expect("every other command is a lab tool");
            run_lab_tool(name, args)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // In the format the run asked for (text until then).
            xskfwd::error!("exit", "{e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Writes `bytes` to stdout; a reader that stopped early (`| head`) is
/// not an error.
fn print_all(bytes: &[u8]) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e).context("writing to stdout"),
        _ => Ok(ExitCode::SUCCESS),
    }
}

/// Replaces this process with `xskfwd-lab TOOL ARGS…` from the directory
/// this binary is in (returns only if that fails).
fn run_lab_tool(tool: &str, args: &[String]) -> Result<ExitCode> {
    let me = std::env::current_exe().context("finding the xskfwd binary")?;
    let lab = me.with_file_name("xskfwd-lab");
    if !lab.is_file() {
        bail!(
            "`xskfwd {tool}` is a lab tool of the xskfwd-lab binary, which is not next to {} \
             (build the workspace: cargo build --release)",
            me.display()
        );
    }
    let err = Process::new(&lab).arg(tool).args(args).exec();
    Err(err).with_context(|| format!("starting {}", lab.display()))
}
