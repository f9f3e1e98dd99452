//! Digest a directory tree three ways: serially, with a goroutine per file, and with a
//! bounded number of digesters; check that the three agree.
//!
//! A port of the Go blog's "Pipelines and cancellation" (go.dev/blog/pipelines), second
//! half: `serial.go`, `parallel.go` and `bounded.go`, with SHA-256 (the `sha2` crate) in
//! place of MD5. Usage: `digest [DIR]`; without DIR it digests a small tree that it creates
//! (and removes) in a temporary directory, so that its output is deterministic. Paths are
//! printed relative to the root (Go prints them with the root in front).
//!
//! ```go
//! // serial.go
//! func MD5All(root string) (map[string][md5.Size]byte, error) {
//!     m := make(map[string][md5.Size]byte)
//!     err := filepath.Walk(root, func(path string, info os.FileInfo, err error) error {
//!         if err != nil { return err }
//!         if !info.Mode().IsRegular() { return nil }
//!         data, err := ioutil.ReadFile(path)
//!         if err != nil { return err }
//!         m[path] = md5.Sum(data)
//!         return nil
//!     })
//!     return m, err
//! }
//!
//! // parallel.go: a goroutine per file; closing done stops them all.
//! func sumFiles(done <-chan struct{}, root string) (<-chan result, <-chan error) {
//!     c := make(chan result)
//!     errc := make(chan error, 1)
//!     go func() {
//!         var wg sync.WaitGroup
//!         err := filepath.Walk(root, func(path string, info os.FileInfo, err error) error {
//!             ... // errors, non-regular files
//!             wg.Add(1)
//!             go func() {
//!                 data, err := ioutil.ReadFile(path)
//!                 select {
//!                 case c <- result{path, md5.Sum(data), err}:
//!                 case <-done:
//!                 }
//!                 wg.Done()
//!             }()
//!             select { // Abort the walk if done is closed.
//!             case <-done: return errors.New("walk canceled")
//!             default: return nil
//!             }
//!         })
//!         go func() { wg.Wait(); close(c) }()
//!         errc <- err
//!     }()
//!     return c, errc
//! }
//! func MD5All(root string) (map[string][md5.Size]byte, error) {
//!     done := make(chan struct{})
//!     defer close(done)
//!     c, errc := sumFiles(done, root)
//!     m := make(map[string][md5.Size]byte)
//!     for r := range c {
//!         if r.err != nil { return nil, r.err }
//!         m[r.path] = r.sum
//!     }
//!     if err := <-errc; err != nil { return nil, err }
//!     return m, nil
//! }
//!
//! // bounded.go: walkFiles sends paths; numDigesters goroutines read and digest files.
//! func walkFiles(done <-chan struct{}, root string) (<-chan string, <-chan error) {
//!     paths := make(chan string)
//!     errc := make(chan error, 1)
//!     go func() {
//!         defer close(paths)
//!         errc <- filepath.Walk(root, func(path string, info os.FileInfo, err error) error {
//!             ... // errors, non-regular files
//!             select {
//!             case paths <- path:
//!             case <-done: return errors.New("walk canceled")
//!             }
//!             return nil
//!         })
//!     }()
//!     return paths, errc
//! }
//! func digester(done <-chan struct{}, paths <-chan string, c chan<- result) {
//!     for path := range paths {
//!         data, err := ioutil.ReadFile(path)
//!         select {
//!         case c <- result{path, md5.Sum(data), err}:
//!         case <-done: return
//!         }
//!     }
//! }
//! func MD5All(root string) (map[string][md5.Size]byte, error) {
//!     done := make(chan struct{})
//!     defer close(done)
//!     paths, errc := walkFiles(done, root)
//!     c := make(chan result)
//!     var wg sync.WaitGroup
//!     const numDigesters = 20
//!     wg.Add(numDigesters)
//!     for i := 0; i < numDigesters; i++ {
//!         go func() { digester(done, paths, c); wg.Done() }()
//!     }
//!     go func() { wg.Wait(); close(c) }()
//!     ... // collect from c, then <-errc, as in parallel.go
//! }
//!
//! func main() {
//!     m, err := MD5All(os.Args[1])
//!     if err != nil { fmt.Println(err); return }
//!     var paths []string
//!     for path := range m { paths = append(paths, path) }
//!     sort.Strings(paths)
//!     for _, path := range paths { fmt.Printf("%x  %s\n", m[path], path) }
//! }
//! ```

use goro::chan::{self, Chan, Receiver, Sender};
use goro::sync::WaitGroup;
use goro::{go, select};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Instant;

type Sum = [u8; 32];
type Sums = BTreeMap<PathBuf, Sum>;

fn sha256(data: &[u8]) -> Sum {
    Sha256::digest(data).into()
}

/// `filepath.Walk`, for regular files only: calls `f` on each, in lexical order, and stops
/// at the first error (its own or `f`'s).
fn walk(root: &Path, f: &mut dyn FnMut(PathBuf) -> io::Result<()>) -> io::Result<()> {
    let meta = std::fs::symlink_metadata(root)?;
    if meta.is_dir() {
        let mut entries = std::fs::read_dir(root)?
            .map(|e| e.map(|e| e.path()))
            .collect::<io::Result<Vec<_>>>()?;
        entries.sort();
        for e in entries {
            walk(&e, f)?;
        }
        Ok(())
    } else if meta.is_file() {
        f(root.to_path_buf())
    } else {
        Ok(())
    }
}

/// `defer close(done)`: closes the channel when dropped, on every return path.
struct CloseOnDrop(Chan<()>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// What a digester reports for one file.
struct Result_ {
    path: PathBuf,
    sum: Sum,
    err: Option<io::Error>,
}

fn read_and_sum(path: PathBuf) -> Result_ {
    match std::fs::read(&path) {
        Ok(data) => Result_ {
            sum: sha256(&data),
            path,
            err: None,
        },
        Err(e) => Result_ {
            path,
            sum: [0; 32],
            err: Some(e),
        },
    }
}

/// Drains `c` into a map; the first error wins (returning closes `done`, which stops the
/// goroutines still working). Then the walk's own error, from `errc`.
fn collect(c: &Receiver<Result_>, errc: &Receiver<io::Result<()>>) -> io::Result<Sums> {
    let mut m = Sums::new();
    for r in c {
        if let Some(e) = r.err {
            return Err(e);
        }
        m.insert(r.path, r.sum);
    }
    errc.recv().expect("the walker always reports")?;
    Ok(m)
}

mod serial {
    use super::*;

    pub fn sha256_all(root: &Path) -> io::Result<Sums> {
        let mut m = Sums::new();
        walk(root, &mut |path| {
            let data = std::fs::read(&path)?;
            m.insert(path, sha256(&data));
            Ok(())
        })?;
        Ok(m)
    }
}

mod parallel {
    use super::*;

    fn sum_files(
        done: Receiver<()>,
        root: PathBuf,
    ) -> (Receiver<Result_>, Receiver<io::Result<()>>) {
        let c = chan::make::<Result_>(0);
        let errc = chan::make::<io::Result<()>>(1);
        let (tx, errtx) = (c.sender(), errc.sender());
        go!(move || {
            let wg = WaitGroup::new();
            let err = walk(&root, &mut |path| {
                let (c, d) = (tx.clone(), done.clone());
                wg.go(move || {
                    let r = read_and_sum(path);
                    select! {
                        c <- r => {}
                        <-d => {}
                    }
                });
                // Abort the walk if done is closed.
                select! {
                    <-done => Err(io::Error::other("walk canceled")),
                    default => Ok(()),
                }
            });
            go!(move || {
                wg.wait();
                tx.close();
            });
            errtx.send(err);
        });
        (c.receiver(), errc.receiver())
    }

    pub fn sha256_all(root: &Path) -> io::Result<Sums> {
        let done = CloseOnDrop(chan::make(0));
        let (c, errc) = sum_files(done.0.receiver(), root.to_path_buf());
        collect(&c, &errc)
    }
}

mod bounded {
    use super::*;

    fn walk_files(
        done: Receiver<()>,
        root: PathBuf,
    ) -> (Receiver<PathBuf>, Receiver<io::Result<()>>) {
        let paths = chan::make::<PathBuf>(0);
        let errc = chan::make::<io::Result<()>>(1);
        let (tx, errtx) = (paths.sender(), errc.sender());
        go!(move || {
            let err = walk(&root, &mut |path| {
                select! {
                    tx <- path => Ok(()),
                    <-done => Err(io::Error::other("walk canceled")),
                }
            });
            tx.close(); // defer close(paths)
            errtx.send(err);
        });
        (paths.receiver(), errc.receiver())
    }

    fn digester(done: &Receiver<()>, paths: &Receiver<PathBuf>, c: &Sender<Result_>) {
        for path in paths {
            let r = read_and_sum(path);
            select! {
                c <- r => {}
                <-done => return,
            }
        }
    }

    pub fn sha256_all(root: &Path) -> io::Result<Sums> {
        let done = CloseOnDrop(chan::make(0));
        let (paths, errc) = walk_files(done.0.receiver(), root.to_path_buf());
        let c = chan::make::<Result_>(0);
        let wg = WaitGroup::new();
        const NUM_DIGESTERS: usize = 20;
        for _ in 0..NUM_DIGESTERS {
            let (done, paths, c) = (done.0.receiver(), paths.clone(), c.sender());
            wg.go(move || digester(&done, &paths, &c));
        }
        let tx = c.sender();
        go!(move || {
            wg.wait();
            tx.close();
        });
        collect(&c.receiver(), &errc)
    }
}

/// A small tree with fixed contents, in a new temporary directory: 3 levels, 24 files (one
/// of them empty). Removed when dropped.
struct SampleTree(PathBuf);

impl SampleTree {
    fn create() -> io::Result<SampleTree> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let root = std::env::temp_dir().join(format!(
            "goro-digest-example-{}-{nanos}",
            std::process::id()
        ));
        let tree = SampleTree(root);
        for (d, dir) in ["", "src", "src/chan", "docs"].iter().enumerate() {
            let dir = tree.0.join(dir);
            std::fs::create_dir_all(&dir)?;
            for i in 0..6 {
                let mut text = String::new();
                for line in 0..(d * 6 + i) * 7 {
                    writeln!(text, "line {line} of file {i} in {}", dir.display()).unwrap();
                }
                // The contents must not depend on the temporary directory's name.
                let text = text.replace(&tree.0.display().to_string(), "ROOT");
                std::fs::write(dir.join(format!("file{i}.txt")), text)?;
            }
        }
        Ok(tree)
    }
}

impl Drop for SampleTree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(root: &Path) -> io::Result<()> {
    let t = Instant::now();
    let serial = serial::sha256_all(root)?;
    eprintln!("serial:   {:?}", t.elapsed());
    let t = Instant::now();
    let parallel = parallel::sha256_all(root)?;
    eprintln!("parallel: {:?}", t.elapsed());
    let t = Instant::now();
    let bounded = bounded::sha256_all(root)?;
    eprintln!("bounded:  {:?}", t.elapsed());

    for (path, sum) in &bounded {
        let hex = sum.iter().fold(String::new(), |mut s, b| {
            write!(s, "{b:02x}").unwrap();
            s
        });
        let shown = path.strip_prefix(root).unwrap_or(path);
        println!("{hex}  {}", shown.display());
    }
    if serial == parallel && parallel == bounded {
        println!(
            "serial, parallel and bounded agree on {} files",
            serial.len()
        );
        Ok(())
    } else {
        Err(io::Error::other(
            "serial, parallel and bounded digests DISAGREE",
        ))
    }
}

#[goro::main]
fn main() {
    let result = match std::env::args_os().nth(1) {
        Some(dir) => run(Path::new(&dir)),
        None => SampleTree::create().and_then(|tree| run(&tree.0)),
    };
    if let Err(e) = result {
        eprintln!("digest: {e}");
        std::process::exit(1);
    }
}
