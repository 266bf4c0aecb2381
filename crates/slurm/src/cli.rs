//! The Slurm command layer: [`SlurmCli`] runs `sbatch`, `squeue`,
//! `scancel`, `scontrol`, `sacct`; [`SystemCli`] runs the real programs.
//! The parsers of their outputs live here too, so that a fake layer (in the
//! unit tests) exercises them with scripted text.
//!
//! Only the text formats with an explicit separator are used: they are the
//! stable interface (`squeue --json` in 22.05 ignores `-j` and reports raw
//! wait statuses).

use std::fmt;
use std::io::{self, Write};
use std::process::{Command, Stdio};

use concurrent_futures_core::ExitCause;

use crate::state::SlurmState;

/// What one Slurm command printed, and whether it succeeded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommandOutput {
    /// Whether it exited with status 0.
    pub success: bool,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
    /// Its exit status; `None` if it was killed by a signal (or the layer
    /// running it cannot tell). Error messages quote it.
    pub exit_code: Option<i32>,
}

impl CommandOutput {
    /// How it ended, for an error message: `"exit status 1"`, or `"no
    /// exit status"`.
    pub(crate) fn status_text(&self) -> String {
        match self.exit_code {
            Some(c) => format!("exit status {c}"),
            None => "no exit status (killed by a signal?)".to_owned(),
        }
    }
}

/// Runs Slurm's commands. [`SystemCli`] runs the real ones; another
/// implementation can reach a cluster some other way (through `ssh`, say),
/// or script the answers in a test.
///
/// # Examples
///
/// ```
/// use concurrent_futures::slurm::{CommandOutput, SlurmCli};
///
/// #[derive(Debug)]
/// struct AlwaysEmpty;
/// impl SlurmCli for AlwaysEmpty {
///     fn run(&self, _program: &str, _args: &[String], _stdin: Option<&str>) -> std::io::Result<CommandOutput> {
///         Ok(CommandOutput { success: true, ..Default::default() })
///     }
/// }
/// assert!(AlwaysEmpty.run("squeue", &[], None).unwrap().success);
/// ```
pub trait SlurmCli: Send + Sync + fmt::Debug {
    /// Runs `program` (`"sbatch"`, `"squeue"`, `"scancel"`, `"scontrol"`,
    /// `"sacct"`) with `args`, feeding `stdin` to it if given.
    ///
    /// # Errors
    ///
    /// The program could not be run at all.
    fn run(&self, program: &str, args: &[String], stdin: Option<&str>)
        -> io::Result<CommandOutput>;
}

/// Runs the real Slurm programs from `PATH` (with the process's own
/// environment: `SLURM_CONF` names the cluster).
///
/// # Examples
///
/// ```no_run
/// use concurrent_futures::slurm::{SlurmCli, SystemCli};
/// let out = SystemCli.run("sinfo", &["-h".to_owned()], None).unwrap();
/// println!("{}", out.stdout);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemCli;

impl SlurmCli for SystemCli {
    fn run(
        &self,
        program: &str,
        args: &[String],
        stdin: Option<&str>,
    ) -> io::Result<CommandOutput> {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn()?;
        if let Some(text) = stdin {
            let mut pipe = child.stdin.take().expect("stdin was piped");
            pipe.write_all(text.as_bytes())?;
        }
        let out = child.wait_with_output()?;
        Ok(CommandOutput {
            success: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            exit_code: out.status.code(),
        })
    }
}

/// Whether a Slurm cluster answers here: `SLURM_CONF` is set (or a
/// system-wide configuration exists) and `sinfo` succeeds.
///
/// # Examples
///
/// ```
/// if !concurrent_futures::slurm::cluster_available() {
///     println!("no cluster here");
/// }
/// ```
#[must_use]
pub fn cluster_available() -> bool {
    let configured = std::env::var_os("SLURM_CONF").is_some()
        || std::path::Path::new("/etc/slurm/slurm.conf").exists();
    configured
        && SystemCli
            .run(
                "sinfo",
                &["-h".to_owned(), "-o".to_owned(), "%T".to_owned()],
                None,
            )
            .is_ok_and(|o| o.success)
}

/// One job (or array element) as `squeue -o '%i|%T|%r|%N'` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct QueueRow {
    pub(crate) job_id: String,
    pub(crate) state: SlurmState,
    pub(crate) reason: String,
    pub(crate) node: String,
}

/// The squeue arguments for every job (and array element, `-r`) of the job
/// name `name`, in any state.
pub(crate) fn squeue_args(name: &str) -> Vec<String> {
    vec![
        "-h".into(),
        "-r".into(),
        "-t".into(),
        "all".into(),
        format!("--name={name}"),
        "-o".into(),
        "%i|%T|%r|%N".into(),
    ]
}

/// Parses `squeue -h -o '%i|%T|%r|%N'` output. A pending array range that
/// `-r` should have expanded but did not (`12_[3-5,9%2]`: a squeue that
/// ignores `-r`, or a [`SlurmCli`] that drops it) is expanded here, one row
/// per element; without that its elements read as gone from the queue, and
/// their futures failed as jobs that ended without a result. A line whose
/// range does not parse is skipped.
pub(crate) fn parse_squeue(text: &str) -> Vec<QueueRow> {
    let mut rows = Vec::new();
    for line in text.lines() {
        let mut p = line.trim().splitn(4, '|');
        let (Some(job_id), Some(state)) = (p.next().map(str::trim), p.next()) else {
            continue;
        };
        let ids = if job_id.is_empty() {
            continue;
        } else if job_id.contains('[') {
            match expand_array_range(job_id) {
                Some(ids) => ids,
                None => continue,
            }
        } else {
            vec![job_id.to_owned()]
        };
        let state = SlurmState::parse(state.trim());
        let reason = p.next().unwrap_or("").trim();
        let node = p.next().unwrap_or("").trim();
        rows.extend(ids.into_iter().map(|job_id| QueueRow {
            job_id,
            state: state.clone(),
            reason: reason.to_owned(),
            node: node.to_owned(),
        }));
    }
    rows
}

/// At most this many elements from one unexpanded range (`MaxArraySize`
/// is at most 4,000,001 in Slurm; a bigger range is a misparse).
const MAX_RANGE_ELEMENTS: u64 = 4_000_001;

/// `12_[3-5,9%2]` as `12_3`, `12_4`, `12_5`, `12_9` (the `%N` throttle and a
/// `:step` are understood).
fn expand_array_range(id: &str) -> Option<Vec<String>> {
    let (job, rest) = id.split_once("_[")?;
    let inner = rest.strip_suffix(']')?;
    let inner = inner.split('%').next()?;
    if job.is_empty() || !job.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut ids = Vec::new();
    for part in inner.split(',') {
        let (range, step) = match part.split_once(':') {
            Some((r, s)) => (r, s.trim().parse::<u64>().ok().filter(|s| *s > 0)?),
            None => (part, 1),
        };
        let (a, b) = match range.split_once('-') {
            Some((a, b)) => (a.trim().parse::<u64>().ok()?, b.trim().parse::<u64>().ok()?),
            None => {
                let a = range.trim().parse::<u64>().ok()?;
                (a, a)
            }
        };
        if b < a || b - a >= MAX_RANGE_ELEMENTS {
            return None;
        }
        ids.extend(
            (a..=b)
                .step_by(usize::try_from(step).ok()?)
                .map(|i| format!("{job}_{i}")),
        );
    }
    Some(ids)
}

/// The job id `sbatch --parsable` printed (`"123"` or `"123;cluster"`).
pub(crate) fn parse_sbatch(text: &str) -> Option<String> {
    let id = text.trim().split(';').next()?.trim();
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())).then(|| id.to_owned())
}

/// Slurm's `ExitCode=CODE:SIGNAL` as an [`ExitCause`]: a signal when it is
/// not 0, else the code.
pub(crate) fn parse_exit_code(text: &str) -> Option<ExitCause> {
    let (code, sig) = text.trim().split_once(':')?;
    let code: i32 = code.parse().ok()?;
    let sig: i32 = sig.parse().ok()?;
    Some(if sig != 0 {
        ExitCause::Signal(sig)
    } else {
        ExitCause::Code(code)
    })
}

/// What `scontrol show job -o ID` (or `sacct`) says of an ended job.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct JobDetails {
    pub(crate) state: Option<SlurmState>,
    pub(crate) reason: Option<String>,
    pub(crate) exit: Option<ExitCause>,
    pub(crate) node: Option<String>,
}

/// Parses one record of `scontrol show job -o`: `Key=Value` words.
pub(crate) fn parse_scontrol(text: &str) -> Option<JobDetails> {
    let line = text.lines().find(|l| l.contains("JobState="))?;
    let mut d = JobDetails::default();
    for word in line.split_whitespace() {
        let Some((k, v)) = word.split_once('=') else {
            continue;
        };
        match k {
            "JobState" => d.state = Some(SlurmState::parse(v)),
            "Reason" if v != "None" => d.reason = Some(v.to_owned()),
            "ExitCode" => d.exit = parse_exit_code(v),
            "NodeList" if v != "(null)" && !v.is_empty() => d.node = Some(v.to_owned()),
            _ => {}
        }
    }
    Some(d)
}

/// Parses `sacct -n -X -P -j ID -o State,ExitCode,NodeList,Reason`.
pub(crate) fn parse_sacct(text: &str) -> Option<JobDetails> {
    let line = text.lines().find(|l| !l.trim().is_empty())?;
    let p: Vec<&str> = line.split('|').collect();
    let state = p.first()?.split_whitespace().next()?;
    Some(JobDetails {
        state: Some(SlurmState::parse(state)),
        exit: p.get(1).and_then(|e| parse_exit_code(e)),
        node: p
            .get(2)
            .filter(|n| !n.is_empty() && **n != "None assigned")
            .map(|n| (*n).to_owned()),
        reason: p
            .get(3)
            .filter(|r| !r.is_empty() && **r != "None")
            .map(|r| (*r).to_owned()),
    })
}

/// `MaxArraySize` from `scontrol show config`.
pub(crate) fn parse_max_array_size(text: &str) -> Option<usize> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.trim() == "MaxArraySize").then(|| v.trim().parse().ok())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squeue_rows() {
        let rows = parse_squeue(
            "12|RUNNING|None|localhost\n13_4|PENDING|Dependency|\n\n15|COMPLETED|None|n1\n",
        );
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].state, SlurmState::Running);
        assert_eq!(rows[0].node, "localhost");
        assert_eq!(rows[1].job_id, "13_4");
        assert_eq!(rows[1].reason, "Dependency");
        assert_eq!(rows[2].state, SlurmState::Completed);
    }

    /// Pending array ranges that `-r` did not expand: one row per element.
    #[test]
    fn squeue_unexpanded_array_ranges() {
        let rows = parse_squeue(
            "14_[5-7%2]|PENDING|JobArrayTaskLimit|\n16_[0,3-4,10-14:2]|PENDING|Priority|\n17_[x-2]|PENDING|None|\n18_[9-2]|PENDING|None|\n",
        );
        let ids: Vec<&str> = rows.iter().map(|r| r.job_id.as_str()).collect();
        assert_eq!(
            ids,
            ["14_5", "14_6", "14_7", "16_0", "16_3", "16_4", "16_10", "16_12", "16_14"]
        );
        assert!(rows.iter().all(|r| r.state == SlurmState::Pending));
        assert_eq!(rows[0].reason, "JobArrayTaskLimit");
        assert_eq!(rows[3].reason, "Priority");
        assert!(parse_squeue("19_[0-99999999999]|PENDING|None|\n").is_empty());
    }

    #[test]
    fn sbatch_ids() {
        assert_eq!(parse_sbatch("123\n"), Some("123".into()));
        assert_eq!(parse_sbatch("77;cfci\n"), Some("77".into()));
        assert_eq!(parse_sbatch("Submitted batch job 5"), None);
        assert_eq!(parse_sbatch(""), None);
    }

    #[test]
    fn exit_codes() {
        assert_eq!(parse_exit_code("0:11"), Some(ExitCause::Signal(11)));
        assert_eq!(parse_exit_code("3:0"), Some(ExitCause::Code(3)));
        assert_eq!(parse_exit_code("0:0"), Some(ExitCause::Code(0)));
        assert_eq!(parse_exit_code("x"), None);
    }

    #[test]
    fn scontrol_record() {
        let d = parse_scontrol(
            "JobId=9 JobName=cf-x UserId=root(0) JobState=FAILED Reason=JobLaunchFailure Dependency=(null) ExitCode=0:11 NodeList=localhost StdErr=/tmp/9.err\n",
        )
        .unwrap();
        assert_eq!(d.state, Some(SlurmState::Failed));
        assert_eq!(d.reason.as_deref(), Some("JobLaunchFailure"));
        assert_eq!(d.exit, Some(ExitCause::Signal(11)));
        assert_eq!(d.node.as_deref(), Some("localhost"));
        let none = parse_scontrol("JobId=9 JobState=PENDING Reason=None NodeList=(null)").unwrap();
        assert_eq!((none.reason, none.node), (None, None));
        assert!(parse_scontrol("slurm_load_jobs error: Invalid job id specified").is_none());
    }

    #[test]
    fn sacct_record() {
        let d = parse_sacct("TIMEOUT|0:0|n3|None\n").unwrap();
        assert_eq!(d.state, Some(SlurmState::Timeout));
        assert_eq!(d.node.as_deref(), Some("n3"));
        let c = parse_sacct("CANCELLED by 0|0:15|n3|\n").unwrap();
        assert_eq!(c.state, Some(SlurmState::Cancelled));
        assert_eq!(c.exit, Some(ExitCause::Signal(15)));
    }

    #[test]
    fn max_array_size() {
        assert_eq!(
            parse_max_array_size("MaxJobCount = 10000\nMaxArraySize            = 10001\n"),
            Some(10001)
        );
        assert_eq!(parse_max_array_size("nothing"), None);
    }
}
