//! Runs the CLI as a child process and reads its peak RSS from wait4's rusage.

use anyhow::{bail, Context as _, Result};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Run {
    pub wall: Duration,
    pub max_rss_kib: i64,
    pub exit_code: Option<i32>,
    pub stdout: Vec<u8>,
    /// Killed at the deadline given to `run_until`.
    pub cut_off: bool,
}

/// Runs `program args…`, capturing stdout to a file so the pipe never blocks it.
pub fn run(program: &Path, args: &[&str], scratch: &Path) -> Result<Run> {
    run_until(program, args, scratch, None)
}

/// `run`, killing the child once `deadline` has passed (a slow case must
/// show as slow, not hold up the whole report).
pub fn run_until(
    program: &Path,
    args: &[&str],
    scratch: &Path,
    deadline: Option<Duration>,
) -> Result<Run> {
    let out_path = scratch.join("cli-stdout.json");
    let out = std::fs::File::create(&out_path)?;
    let start = Instant::now();
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", program.display()))?;
    let pid = libc::pid_t::try_from(child.id())?;
    let done = Arc::new(AtomicBool::new(false));
    let killed = Arc::new(AtomicBool::new(false));
    let watchdog = deadline.map(|limit| {
        let (done, killed) = (Arc::clone(&done), Arc::clone(&killed));
        std::thread::spawn(move || {
            while start.elapsed() < limit {
                if done.load(Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            if !done.load(Ordering::SeqCst) {
                killed.store(true, Ordering::SeqCst);
                // SAFETY: pid is our child, not yet reaped (done is unset)
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        })
    });
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our own unwaited child; status and usage are valid for writes.
    let got = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    done.store(true, Ordering::SeqCst);
    if let Some(w) = watchdog {
        let _ = w.join();
    }
    if got != pid {
        bail!("wait4 failed: {}", std::io::Error::last_os_error());
    }
    let exit_code = if libc::WIFEXITED(status) {
        Some(libc::WEXITSTATUS(status))
    } else {
        None
    };
    // the Child is already reaped; dropping it neither waits nor kills
    drop(child);
    Ok(Run {
        wall,
        // ru_maxrss is in KiB on Linux
        max_rss_kib: usage.ru_maxrss,
        exit_code,
        stdout: std::fs::read(&out_path)?,
        cut_off: killed.load(Ordering::SeqCst),
    })
}
