//! git, run so that nothing from the audited repository executes, and only to read objects:
//! where the repository is, which commit is the merge base, and the files of that commit.
//!
//! prodready never runs `git diff`, `git status` or a checkout: those read the working tree
//! through the repository's attributes (clean filters, diff drivers, textconv) and may start
//! an fsmonitor or hooks, all of which a repository's own configuration can point at any
//! program. Object reads (`rev-parse`, `merge-base`, `ls-tree`, `cat-file --batch` without
//! `--filters`) run none of them; the configuration overrides below are a second fence.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};

/// Configuration that would let git start a program, neutralised for every command.
const HARDENING: [&str; 6] = [
    "-c",
    "core.fsmonitor=",
    "-c",
    "core.hooksPath=/dev/null",
    // Reading an object never needs the network: a partial clone's missing blob is an error,
    // not a fetch through a credential helper.
    "-c",
    "protocol.allow=never",
];

/// A repository, addressed from a folder inside its work tree.
pub struct Git {
    dir: PathBuf,
}

/// What a git command printed, and whether it succeeded.
pub struct Output {
    pub ok: bool,
    pub stdout: Vec<u8>,
    /// Its first line, for messages.
    pub stderr: String,
}

impl Output {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).trim_end().to_string()
    }
}

/// A commit's tree: its regular files, and where its submodules are.
#[derive(Default)]
pub struct Tree {
    pub files: Vec<TreeFile>,
    /// Paths of submodules (relative to the top level): their content is another repository's.
    pub submodules: Vec<String>,
}

/// One file of a commit's tree.
pub struct TreeFile {
    /// `/`-separated, relative to the repository's top level.
    pub path: String,
    pub object: String,
}

impl Git {
    pub fn new(dir: &Path) -> Git {
        Git {
            dir: dir.to_path_buf(),
        }
    }

    fn command(&self) -> Command {
        let mut command = Command::new("git");
        command
            .arg("-C")
            .arg(&self.dir)
            .arg("--no-pager")
            .args(HARDENING)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_NO_LAZY_FETCH", "1")
            // Never take the index lock (a concurrent `git commit` of the user must not fail).
            .env("GIT_OPTIONAL_LOCKS", "0")
            .stdin(Stdio::null());
        // Inside a git hook these may be set, and relative: `-C` must not move them.
        let cwd = std::env::current_dir().unwrap_or_default();
        for variable in [
            "GIT_DIR",
            "GIT_WORK_TREE",
            "GIT_COMMON_DIR",
            "GIT_OBJECT_DIRECTORY",
        ] {
            if let Some(value) = std::env::var_os(variable)
                && Path::new(&value).is_relative()
            {
                command.env(variable, cwd.join(value));
            }
        }
        command
    }

    pub fn run(&self, args: &[&str]) -> Result<Output, String> {
        let output = self
            .command()
            .args(args)
            .output()
            .map_err(|e| spawn_error(&e))?;
        Ok(Output {
            ok: output.status.success(),
            stdout: output.stdout,
            stderr: String::from_utf8_lossy(&output.stderr)
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim()
                .to_string(),
        })
    }

    /// Every regular file of `commit`'s tree, and its submodules. Symbolic links are left out:
    /// the audit never follows them.
    pub fn tree(&self, commit: &str) -> Result<Tree, String> {
        let out = self.run(&["ls-tree", "-r", "-z", "--full-tree", commit])?;
        if !out.ok {
            return Err(format!("cannot list the files of {commit}{}", detail(&out)));
        }
        let mut tree = Tree::default();
        for entry in out.stdout.split(|&b| b == 0).filter(|e| !e.is_empty()) {
            // `<mode> SP <type> SP <object> TAB <path>`
            let Some(tab) = entry.iter().position(|&b| b == b'\t') else {
                continue;
            };
            let meta = String::from_utf8_lossy(&entry[..tab]);
            let mut fields = meta.split(' ');
            let (Some(mode), Some(kind), Some(object)) =
                (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            let Ok(path) = String::from_utf8(entry[tab + 1..].to_vec()) else {
                // The working tree's side of such a path is not audited as text either.
                continue;
            };
            if kind == "commit" {
                tree.submodules.push(path);
            } else if kind == "blob" && matches!(mode, "100644" | "100755") {
                tree.files.push(TreeFile {
                    path,
                    object: object.to_string(),
                });
            }
        }
        Ok(tree)
    }

    /// Writes each file's content, as committed (no filter, no line-ending conversion), under
    /// `dest` at its repository path.
    pub fn write_files(&self, files: &[&TreeFile], dest: &Path) -> Result<(), String> {
        let mut child = self
            .command()
            .args(["cat-file", "--batch"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| spawn_error(&e))?;
        let mut stdin = child.stdin.take().expect("piped");
        let requests: String = files.iter().map(|f| format!("{}\n", f.object)).collect();
        let writer = std::thread::spawn(move || stdin.write_all(requests.as_bytes()));
        let mut stderr = child.stderr.take().expect("piped");
        let errors = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let mut reader = BufReader::new(child.stdout.take().expect("piped"));
        let copied = files
            .iter()
            .try_for_each(|file| copy_blob(&mut reader, file, dest));
        if copied.is_err() {
            let _ = child.kill();
        }
        drop(reader);
        let status = child.wait().map_err(|e| format!("git cat-file: {e}"))?;
        let _ = writer.join();
        let errors = errors.join().unwrap_or_default();
        copied?;
        if !status.success() {
            return Err(format!(
                "git cat-file failed: {}",
                errors.lines().next().unwrap_or("")
            ));
        }
        Ok(())
    }
}

/// Copies one blob of `cat-file --batch` output (`<object> blob <size>\n<content>\n`).
fn copy_blob(reader: &mut impl BufRead, file: &TreeFile, dest: &Path) -> Result<(), String> {
    let mut header = String::new();
    reader
        .read_line(&mut header)
        .map_err(|e| format!("git cat-file: {e}"))?;
    let size = match header.trim_end().split(' ').collect::<Vec<_>>()[..] {
        [_, "blob", size] => size
            .parse::<u64>()
            .map_err(|_| format!("git cat-file: unexpected header `{}`", header.trim_end()))?,
        [object, "missing"] => {
            return Err(format!(
                "{} ({object}) of the merge base is missing from this clone (a partial clone?): fetch it first",
                file.path
            ));
        }
        _ => {
            return Err(format!(
                "git cat-file: unexpected header `{}`",
                header.trim_end()
            ));
        }
    };
    let target = dest.join(safe_relative(&file.path).ok_or_else(|| {
        format!(
            "the merge base has a file path that is not safe to write: {}",
            file.path
        )
    })?);
    let write_error = |e: io::Error| format!("cannot write {}: {e}", target.display());
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).map_err(write_error)?;
    }
    let mut out = std::fs::File::create(&target).map_err(write_error)?;
    let written = io::copy(&mut reader.take(size), &mut out).map_err(write_error)?;
    let mut newline = [0u8; 1];
    if written != size || reader.read_exact(&mut newline).is_err() {
        return Err(format!("git cat-file: {} was cut short", file.path));
    }
    Ok(())
}

/// A repository path as a relative path that stays inside the folder it is joined to.
fn safe_relative(path: &str) -> Option<PathBuf> {
    let relative = Path::new(path);
    let normal = relative
        .components()
        .all(|c| matches!(c, Component::Normal(part) if part != ".git"));
    (normal && !path.is_empty()).then(|| relative.to_path_buf())
}

fn spawn_error(error: &io::Error) -> String {
    if error.kind() == io::ErrorKind::NotFound {
        "--changed-since needs git, which is not installed or not on PATH".to_string()
    } else {
        format!("cannot run git: {error}")
    }
}

/// git's own explanation, when it gave one: ` (git: ...)`.
pub fn detail(out: &Output) -> String {
    if out.stderr.is_empty() {
        String::new()
    } else {
        format!(" (git: {})", out.stderr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths_are_written() {
        assert_eq!(
            safe_relative("src/a b.rs"),
            Some(PathBuf::from("src/a b.rs"))
        );
        for bad in [
            "",
            "../x",
            "/etc/passwd",
            "a/../../x",
            ".git/config",
            "a/.git/hooks/x",
        ] {
            assert_eq!(safe_relative(bad), None, "{bad}");
        }
    }
}
