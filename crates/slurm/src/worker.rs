//! The job side: what a batch job of a [`SlurmExecutor`](crate::SlurmExecutor)
//! runs. The job script `exec`s the executable's copy with the process
//! pool's entry hook set to [`batch_main`], so the job is this same program
//! entering here from `process::init()`, before anything of `main` runs.
//!
//! Before it runs any task code the job hashes its own executable and
//! compares the SHA-256 with the one the parent computed (the entry hook has
//! already compared a probe function's offset): a copy changed on the shared
//! folder is refused (exit code 123, the reason on stderr).
//!
//! The task's time limit (sub-minute, which `--time` cannot express) is the
//! job's own: the task runs on a thread, and past the limit the job writes a
//! `TimedOut` result and exits with code 124.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use concurrent_futures_pool::process::launcher::sha256_hex;

use crate::code::{self, Outcome, ResultFile, TaskFile};

/// The job's parameters: the run directory, the expected SHA-256, and the
/// task index (`CF_SLURM_TASK`), or the index of the array's first task
/// (`CF_SLURM_BASE`, plus `SLURM_ARRAY_TASK_ID`).
pub(crate) const DIR_ENV: &str = "CF_SLURM_DIR";
pub(crate) const SHA_ENV: &str = "CF_SLURM_SHA256";
pub(crate) const TASK_ENV: &str = "CF_SLURM_TASK";
pub(crate) const BASE_ENV: &str = "CF_SLURM_BASE";

/// Exit codes of a job that could not run its task.
pub(crate) const EXIT_REFUSED: i32 = 123;
pub(crate) const EXIT_TIME_LIMIT: i32 = 124;
pub(crate) const EXIT_NO_TASK: i32 = 125;

/// The task file of task `index` under `dir`.
pub(crate) fn task_path(dir: &Path, index: u64) -> PathBuf {
    dir.join("tasks").join(format!("{index}.task"))
}

/// The result file of task `index` under `dir`.
pub(crate) fn result_path(dir: &Path, index: u64) -> PathBuf {
    dir.join("results").join(format!("{index}.result"))
}

/// Writes `bytes` to `path` atomically: a hidden temporary file beside it,
/// fsync, rename (then fsync of the directory), so a reader sees the whole
/// file or none.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomically_with_mode(path, bytes, None)
}

/// [`write_atomically`] without the two `fsync`s: readers still see the
/// whole file or none (the rename), and a reader on another node sees the
/// data once the file is closed (NFS's close-to-open consistency), but a
/// crash of this machine may lose it. For the task files: they matter only
/// while the submitting process lives, and their `fsync`s were 1.2 s of the
/// 1.8 s a `map` of 250 chunks took to submit (5 ms a file here).
pub(crate) fn write_atomically_unsynced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_file(path, bytes, None, false)
}

/// [`write_atomically`], the file given `mode` before it is renamed into
/// place, so no reader sees it without its mode (an executable staged
/// without its execute bit for a moment: a job that ran it then failed
/// with "Permission denied").
pub(crate) fn write_atomically_with_mode(
    path: &Path,
    bytes: &[u8],
    mode: Option<u32>,
) -> io::Result<()> {
    write_file(path, bytes, mode, true)
}

fn write_file(path: &Path, bytes: &[u8], mode: Option<u32>, sync: bool) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.{}-{n}.tmp", std::process::id()));
    let mut f = fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    if let Some(mode) = mode {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(fs::Permissions::from_mode(mode))?;
    }
    if sync {
        f.sync_all()?;
    }
    drop(f);
    fs::rename(&tmp, path)?;
    if sync {
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

pub(crate) fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `len` bytes into our buffer.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len() - 1) };
    if r != 0 {
        return "?".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

fn refuse(code: i32, why: &str) -> ! {
    eprintln!(
        "concurrent-futures slurm job {} on {}: {why}; exiting",
        std::env::var("SLURM_JOB_ID").unwrap_or_default(),
        hostname()
    );
    std::process::exit(code);
}

/// The job's entry (through `process::init()`): runs its one task, writes
/// the result, exits.
pub(crate) fn batch_main() {
    let dir = std::env::var_os(DIR_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| refuse(EXIT_NO_TASK, "CF_SLURM_DIR is not set"));
    let want = std::env::var(SHA_ENV).unwrap_or_default();
    match own_sha256() {
        Ok(sha) if sha == want => {}
        Ok(_) => refuse(
            EXIT_REFUSED,
            "this executable's SHA-256 is not the submitter's (the copy was changed): refusing to run the task",
        ),
        Err(e) => refuse(EXIT_REFUSED, &format!("cannot read its own executable: {e}")),
    }
    let index = task_index().unwrap_or_else(|| refuse(EXIT_NO_TASK, "no task index"));
    let task: TaskFile = match fs::read(task_path(&dir, index)) {
        Ok(bytes) => TaskFile::from_bytes(&bytes)
            .unwrap_or_else(|| refuse(EXIT_NO_TASK, &format!("malformed task file {index}"))),
        Err(e) => refuse(EXIT_NO_TASK, &format!("cannot read task file {index}: {e}")),
    };
    let limit = task.limit_ms.map(Duration::from_millis);
    let (outcome, timed_out) = match limit {
        None => {
            // SAFETY: the task file was made by the submitter from
            // `code::remote_fn`/`remote_chunk_fn`, and this is the
            // submitter's executable (hash checked above).
            (unsafe { code::run(task.func, &task.arg) }, false)
        }
        Some(limit) => run_with_limit(task, limit),
    };
    let result = ResultFile {
        // Slurm's name of the node (what squeue and scontrol print).
        node: std::env::var("SLURMD_NODENAME").unwrap_or_else(|_| hostname()),
        pid: std::process::id(),
        outcome,
    };
    let bytes = result.to_bytes();
    if let Err(e) = write_atomically(&result_path(&dir, index), &bytes) {
        refuse(EXIT_NO_TASK, &format!("cannot write result {index}: {e}"));
    }
    if timed_out {
        // Past the limit the task's thread is still running, and may hold
        // the stdout lock for ever: a flush, or `process::exit` (which
        // flushes too), would wait for it. `_exit` ends the process at once;
        // stdout is line-buffered, so at most a last partial line is lost.
        // SAFETY: `_exit` runs no handlers and touches no memory of ours.
        unsafe { libc::_exit(EXIT_TIME_LIMIT) }
    }
    let _ = io::stdout().flush();
    std::process::exit(0);
}

/// The SHA-256 of this process's executable, hashed from a read-only
/// mapping of it (populated up front): reading a 23 MB debug test binary
/// into a fresh `Vec` cost a job 36 ms of `read` (most of it faulting in
/// the buffer) beside 17 ms of hashing, and a `map` runs hundreds of jobs
/// on few cores. Falls back to reading the file if it cannot be mapped.
///
/// The file cannot shrink under the mapping (which would be a `SIGBUS`):
/// the kernel refuses writes to an executable while it runs (`ETXTBSY`),
/// and the executor replaces its copy only by renaming a new file into
/// place, which leaves this inode alone.
pub(crate) fn own_sha256() -> io::Result<String> {
    use std::os::fd::AsRawFd;
    let file = fs::File::open("/proc/self/exe")?;
    let len = usize::try_from(file.metadata()?.len()).map_err(io::Error::other)?;
    if len == 0 {
        return Ok(sha256_hex(&[]));
    }
    // SAFETY: a fresh private read-only mapping of an open file; nothing
    // else in this process maps or writes there.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_PRIVATE | libc::MAP_POPULATE,
            file.as_raw_fd(),
            0,
        )
    };
    if ptr == libc::MAP_FAILED {
        return fs::read("/proc/self/exe").map(|b| sha256_hex(&b));
    }
    // SAFETY: the mapping is `len` readable bytes, alive until the munmap
    // below, and the file under it cannot shrink (see above).
    let sha = sha256_hex(unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) });
    // SAFETY: unmaps exactly the mapping made above; the slice is gone.
    unsafe { libc::munmap(ptr, len) };
    Ok(sha)
}

fn run_with_limit(task: TaskFile, limit: Duration) -> (Outcome, bool) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // SAFETY: as in `batch_main`.
        let out = unsafe { code::run(task.func, &task.arg) };
        let _ = tx.send(out);
    });
    match rx.recv_timeout(limit) {
        Ok(out) => (out, false),
        Err(_) => (
            Outcome::TimedOut {
                limit_ms: u64::try_from(limit.as_millis()).unwrap_or(u64::MAX),
                pid: std::process::id(),
            },
            true,
        ),
    }
}

fn task_index() -> Option<u64> {
    if let Ok(t) = std::env::var(TASK_ENV) {
        return t.parse().ok();
    }
    let base: u64 = std::env::var(BASE_ENV).ok()?.parse().ok()?;
    let i: u64 = std::env::var("SLURM_ARRAY_TASK_ID").ok()?.parse().ok()?;
    base.checked_add(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_sha256_is_the_hash_of_the_executable() {
        let bytes = fs::read("/proc/self/exe").unwrap();
        assert_eq!(own_sha256().unwrap(), sha256_hex(&bytes));
    }

    #[test]
    fn atomic_write_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("cf-slurm-aw-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let p = dir.join("1.result");
        write_atomically(&p, b"abc").unwrap();
        write_atomically(&p, b"de").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"de");
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [std::ffi::OsString::from("1.result")]);
        fs::remove_dir_all(&dir).unwrap();
    }
}
