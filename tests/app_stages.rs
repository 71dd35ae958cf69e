//! A run that fails after any stage of its set-up tears down what it
//! built: nothing stays attached, no socket or thread survives, and every
//! UMEM frame is accounted for in the summary. The failure is injected
//! through `app::run_staged`'s stage hook, in a real lab, for L2 and L3.
//! Root only (skips, saying so).

mod common;

use std::thread;

use anyhow::bail;
use clap::Parser;
use common::*;
use xskfwd::app::{run_staged, Ending, Stage, Summary};
use xskfwd::cli::{Cli, Command};
use xskfwd::config::Config;
use xskfwd_lab::lab::LabInfo;

fn config(args: Vec<String>) -> (Config, String) {
    let mut argv = vec!["xskfwd".to_string()];
    argv.extend(args);
    argv.extend([
        "--duration".into(),
        "1".into(),
        "--stats".into(),
        "none".into(),
    ]);
    let Command::Run(run) = Cli::try_parse_from(argv).expect("arguments").command else {
        unreachable!("a run command")
    };
    (
        run.to_config().expect("config"),
        run.netns.expect("a namespace"),
    )
}

/// Runs in a thread of its own (run_staged moves its thread into the
/// namespace), failing right after `fail_at` (or not at all).
fn run_in_lab(
    config: &Config,
    ns: &str,
    fail_at: Option<Stage>,
) -> (Summary, anyhow::Result<Ending>) {
    thread::scope(|s| {
        s.spawn(|| {
            run_staged(config, Some(ns), |stage| {
                if Some(stage) == fail_at {
                    bail!("injected failure after {stage:?}");
                }
                Ok(())
            })
        })
        .join()
        .expect("the run does not panic")
    })
}

fn every_stage_tears_down(tag: &str, args: fn(&LabInfo) -> Vec<String>) {
    let lab = lab(tag);
    let info = lab.info().clone();
    let (config, ns) = config(args(&info));
    for stage in Stage::ALL {
        let (summary, result) = run_in_lab(&config, &ns, Some(stage));
        let err = result.expect_err("the injected failure fails the run");
        assert!(
            format!("{err:#}").contains("injected"),
            "{stage:?}: {err:#}"
        );
        assert_dut_clean(info.dut_ns());
        assert!(summary.conserved(), "{stage:?}: frames lost: {summary:?}");
        if stage >= Stage::Umem {
            assert_eq!(
                summary.umem_frames,
                u64::from(config.total_frames()),
                "{stage:?}: every UMEM frame is in the accounting"
            );
        } else {
            assert_eq!(summary.umem_frames, 0, "{stage:?}: no UMEM yet");
        }
        if stage >= Stage::Sockets {
            assert_eq!(
                summary.frames.len(),
                config.workers() + 1,
                "{stage:?}: one account per worker plus the spare frames"
            );
        }
    }
    // And the whole way through: forwards for its duration, then stops
    // with everything accounted for and detached.
    let (summary, result) = run_in_lab(&config, &ns, None);
    result.expect("a full run");
    assert!(summary.conserved(), "{summary:?}");
    assert_dut_clean(info.dut_ns());
}

#[test]
fn l2_setup_failing_after_any_stage_leaves_nothing_behind() {
    if !root_or_skip("l2_setup_failing_after_any_stage_leaves_nothing_behind") {
        return;
    }
    every_stage_tears_down("stagesl2", xskfwd_lab::demo::l2_run_args);
}

#[test]
fn l3_setup_failing_after_any_stage_leaves_nothing_behind() {
    if !root_or_skip("l3_setup_failing_after_any_stage_leaves_nothing_behind") {
        return;
    }
    every_stage_tears_down("stagesl3", xskfwd_lab::demo::l3_run_args);
}
