//! Runs the CLI as a child process and reads its peak RSS from wait4's rusage.

use anyhow::{bail, Context as _, Result};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub struct Run {
    pub wall: Duration,
    pub max_rss_kib: i64,
    pub exit_code: Option<i32>,
    pub stdout: Vec<u8>,
}

/// Runs `program args…`, capturing stdout to a file so the pipe never blocks it.
pub fn run(program: &Path, args: &[&str], scratch: &Path) -> Result<Run> {
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
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our own unwaited child; status and usage are valid for writes.
    let got = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
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
    })
}
