//! Runs the side-by-side benchmarks and prints Markdown tables (the ones in
//! BENCHMARKS.md).
//!
//! ```sh
//! cargo run --release --bin matrix -- servers  [--reps 3] [--secs 2] [--sizes 16,1k,64k,1m] [--conns 1,64] [--windows 1,16]
//! cargo run --release --bin matrix -- clients  [same options]
//! cargo run --release --bin matrix -- blocking [same options]   # ws-blocking vs tungstenite, servers then clients
//! cargo run --release --bin matrix -- memory   [--idle 10000]
//! cargo run --release --bin matrix -- soak     [--soak-conns 1000] [--soak-secs 60] [--soak-size 1k]
//! cargo run --release --bin matrix -- cpu-servers [matrix options]   # CPU time per message, both sides; ours and tungstenite
//! cargo run --release --bin matrix -- cpu-clients [matrix options]
//! ```
//!
//! `--busy-cores 0,1` (any benchmark) keeps a lowest-priority busy loop on each listed
//! core for the run, so that a core never goes idle: on a VM whose idle vCPU halts
//! (this one: `cpuidle_haltpoll` with `guest_halt_poll_ns=0`), waking a halted core
//! costs tens of microseconds, and the latency-bound cells then favour whichever
//! implementation is slow enough never to wait (BENCHMARKS.md, "2026-12-03 late").
//!
//! `soak` runs our servers (ws-tokio, ws-async-std, ws-blocking) one after the other
//! under `--soak-conns` connections echoing `--soak-size` messages for `--soak-secs`,
//! and reports the rate, whether any connection failed, and the server's resident
//! memory over the run and after the clients have gone.
//!
//! `cpu-servers` and `cpu-clients` run the matrix's cells (by default for ours and
//! tungstenite only) and report, besides the rate, the CPU time the side under test
//! spends per message in user space and in the kernel, read from `/proc` over `--secs`
//! in the middle of each run, and the CPU time the neutral side (the load generator,
//! the neutral server) spent per message over the same seconds: a side under test can
//! be slower by making its peer work harder, as the client's pace of reading can.
//! BENCHMARKS.md uses them to bound what less work in user space could still win in a
//! cell.
//!
//! Servers run on core 0 and the load (the neutral load generator, or the clients under
//! test) on core 1, with `taskset` when it is installed. Every cell is measured `reps`
//! times, the implementations taking turns within each repetition so that drift in the
//! machine's speed hits them alike, in an order that rotates from cell to cell; the
//! tables show medians.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ws_bench::{BLOCKING, CLIENTS, SERVERS, median, parse_size, show_size};

struct Options {
    reps: usize,
    secs: String,
    warmup: String,
    sizes: Vec<usize>,
    conns: Vec<usize>,
    windows: Vec<usize>,
    idle: usize,
    impls: Vec<String>,
    soak_conns: usize,
    soak_secs: u64,
    soak_size: usize,
    busy_cores: Vec<usize>,
}

/// Our servers, one per adapter: what `soak` runs by default.
const OURS: [&str; 3] = ["ours", "ours-async-std", "ours-blocking"];

/// What `matrix --help` prints, and what a wrong argument is answered with.
const USAGE: &str = "\
usage: matrix BENCHMARK [--FLAG VALUE]...
benchmarks: servers (the default), clients, blocking, memory, soak, cpu-servers, cpu-clients
flags:
  --reps N              repetitions per cell; the tables show medians (3)
  --secs S              seconds measured per run (2)
  --warmup S            seconds of warm-up before each run (0.5)
  --sizes LIST          message sizes, e.g. 16,1k,64k,1m
  --conns LIST          connection counts, e.g. 1,64
  --windows LIST        messages in flight per connection, e.g. 1,16
  --impls LIST          which implementations to run (default: all of the benchmark's;
                        ours and tungstenite for cpu-servers and cpu-clients)
  --idle N              memory: idle connections to open (10000)
  --soak-conns N        soak: connections (1000)
  --soak-secs N         soak: seconds (60)
  --soak-size SIZE      soak: message size (1k)
  --busy-cores LIST     keep a lowest-priority busy loop on these cores, e.g. 0,1
";

/// Prints the usage to standard error and exits with status 2.
fn usage(problem: &str) -> ! {
    eprintln!("matrix: {problem}\n{USAGE}");
    std::process::exit(2);
}

fn main() {
    let mut args = std::env::args().skip(1);
    let what = args.next().unwrap_or_else(|| "servers".into());
    if what == "--help" || what == "-h" {
        print!("{USAGE}");
        return;
    }
    let mut o = Options {
        reps: 3,
        secs: "2".into(),
        warmup: "0.5".into(),
        sizes: vec![16, 1024, 64 * 1024, 1024 * 1024],
        conns: vec![1, 64],
        windows: vec![1, 16],
        idle: 10_000,
        impls: Vec::new(),
        soak_conns: 1000,
        soak_secs: 60,
        soak_size: 1024,
        busy_cores: Vec::new(),
    };
    ws_bench::raise_fd_limit();
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            print!("{USAGE}");
            return;
        }
        let Some(value) = args.next() else {
            usage(&format!("{flag} needs a value"));
        };
        let list = |v: &str| v.split(',').map(parse_size).collect::<Vec<_>>();
        match flag.as_str() {
            "--reps" => o.reps = value.parse().expect("reps"),
            "--secs" => o.secs = value,
            "--warmup" => o.warmup = value,
            "--sizes" => o.sizes = list(&value),
            "--conns" => o.conns = list(&value),
            "--windows" => o.windows = list(&value),
            "--idle" => o.idle = value.parse().expect("connections"),
            "--impls" => o.impls = value.split(',').map(str::to_owned).collect(),
            "--soak-conns" => o.soak_conns = value.parse().expect("connections"),
            "--soak-secs" => o.soak_secs = value.parse().expect("seconds"),
            "--soak-size" => o.soak_size = parse_size(&value),
            "--busy-cores" => o.busy_cores = list(&value),
            other => usage(&format!("unknown flag {other}")),
        }
    }
    if o.impls.is_empty() {
        let all = match what.as_str() {
            "clients" => CLIENTS,
            "blocking" => BLOCKING,
            "soak" => &OURS[..],
            "cpu-servers" | "cpu-clients" => &["ours", "tungstenite"][..],
            _ => SERVERS,
        };
        o.impls = all.iter().map(|s| s.to_string()).collect();
    }
    if what == "spin" {
        spin();
    }
    let busy = Busy::start(&o.busy_cores);
    match what.as_str() {
        "servers" => servers(&o),
        "clients" => clients(&o),
        "blocking" => {
            servers(&o);
            clients(&o);
        }
        "memory" => memory(&o),
        "soak" => soak(&o),
        "cpu-servers" => cpu(&o, Side::Server),
        "cpu-clients" => cpu(&o, Side::Client),
        other => usage(&format!("unknown benchmark {other}")),
    }
    drop(busy);
    if FAILED.load(std::sync::atomic::Ordering::Relaxed) {
        std::process::exit(1);
    }
}

/// `matrix spin`: what `--busy-cores` runs on each core. It ends when the matrix that
/// started it does (its parent changes), so a killed run leaves no core busy.
fn spin() -> ! {
    let parent = std::os::unix::process::parent_id();
    loop {
        for _ in 0..1_000_000 {
            std::hint::spin_loop();
        }
        if std::os::unix::process::parent_id() != parent {
            std::process::exit(0);
        }
    }
}

/// The busy loops of `--busy-cores`, stopped when this is dropped.
struct Busy(Vec<Child>);

impl Busy {
    fn start(cores: &[usize]) -> Busy {
        // Each one is kept as it starts, so that a failure to start the next still
        // stops it (on drop).
        let mut busy = Busy(Vec::new());
        for &core in cores {
            // SCHED_IDLE: it runs only when nothing else on the core wants to
            // (util-linux, like taskset).
            let mut c = Command::new("chrt");
            c.args(["--idle", "0", "taskset", "-c", &core.to_string()])
                .arg(bin("matrix"))
                .arg("spin")
                .stdout(Stdio::null());
            busy.0
                .push(c.spawn().expect("--busy-cores needs chrt and taskset"));
        }
        // chrt or taskset that cannot do it (no such core, no taskset) exits at once.
        std::thread::sleep(Duration::from_millis(200));
        for child in &mut busy.0 {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("a --busy-cores loop did not start: {status}");
            }
        }
        busy
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A sibling binary of this one.
fn bin(name: &str) -> PathBuf {
    let me = std::env::current_exe().expect("own path");
    me.with_file_name(name)
}

/// A command pinned to `core` when taskset is available.
fn pinned(core: usize, program: PathBuf) -> Command {
    if Command::new("taskset").arg("-V").output().is_ok() {
        let mut c = Command::new("taskset");
        c.arg("-c").arg(core.to_string()).arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// The neutral side of a measurement (the load generator, the neutral server), pinned
/// to `core`, with glibc's allocator told to keep the memory it frees.
///
/// By default glibc gives freed memory back to the kernel (it trims the heap's top, and
/// unmaps large blocks) and faults it in again at the next allocation. With a
/// gigabyte in flight (1 MiB × 64 connections × 16) the neutral server spent its time
/// doing so, and the client measured after it made 30-280 msg/s instead of about
/// 1 500, whichever library it was (BENCHMARKS.md, "2026-12-05"). What is measured
/// should be the library under test, so the tools keep their memory; the servers and
/// clients under test run with the defaults their users get.
fn neutral_tool(core: usize, name: &str) -> Command {
    let mut cmd = pinned(core, bin(name));
    cmd.env("MALLOC_TRIM_THRESHOLD_", "2147483647")
        .env("MALLOC_MMAP_THRESHOLD_", "33554432");
    cmd
}

/// A server process and the address it listens on.
struct Server {
    child: Child,
    addr: String,
}

/// Starts `cmd` and waits for the first line it prints (a server's address, the idle
/// load's "ready").
fn spawn_announcing(cmd: &mut Command) -> (Child, String) {
    let mut child = cmd.stdout(Stdio::piped()).spawn().expect("start a process");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("its first line");
    (child, line)
}

impl Server {
    fn start(mut cmd: Command) -> Self {
        let (child, line) = spawn_announcing(&mut cmd);
        let addr = line
            .strip_prefix("listening ")
            .unwrap_or_else(|| panic!("unexpected server output {line:?}"))
            .trim()
            .to_owned();
        Self { child, addr }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a measuring process and reads the figure it prints.
fn measure(mut cmd: Command) -> f64 {
    let out = cmd.stderr(Stdio::inherit()).output().expect("run the load");
    let text = String::from_utf8_lossy(&out.stdout);
    match text.trim().parse() {
        Ok(v) if out.status.success() => v,
        _ => {
            eprintln!("a run failed: {:?} {text:?}", out.status);
            FAILED.store(true, std::sync::atomic::Ordering::Relaxed);
            0.0
        }
    }
}

/// Set when a measuring process failed: the tables show 0 there, and the exit status
/// says so.
static FAILED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

type Cell = (usize, usize, usize);

fn cells(o: &Options) -> Vec<Cell> {
    let mut v = Vec::new();
    for &size in &o.sizes {
        for &conns in &o.conns {
            for &window in &o.windows {
                v.push((size, conns, window));
            }
        }
    }
    v
}

/// The echo server `name` under test, on core 0.
fn start_server(name: &str) -> Server {
    let mut cmd = pinned(0, bin("server"));
    cmd.arg(name).arg("127.0.0.1:0");
    Server::start(cmd)
}

/// One echo server per implementation, for a whole benchmark.
fn start_servers(impls: &[String]) -> Vec<(String, Server)> {
    impls
        .iter()
        .map(|name| (name.clone(), start_server(name)))
        .collect()
}

/// The server of `name` among those [`start_servers`] started.
fn server_of<'a>(running: &'a [(String, Server)], name: &str) -> &'a Server {
    &running.iter().find(|(n, _)| n == name).expect("started").1
}

/// The neutral server the clients under test talk to, on core 0.
fn start_neutral() -> Server {
    let mut cmd = neutral_tool(0, "neutral");
    cmd.arg("127.0.0.1:0");
    Server::start(cmd)
}

/// The neutral load generator echoing against the server at `addr`, on core 1; the
/// run's SIZE CONNS WINDOW WARMUP SECS are appended to it.
fn echo_load(addr: &str) -> Command {
    let mut cmd = neutral_tool(1, "loadgen");
    cmd.arg("echo").arg(addr);
    cmd
}

/// The client `name` under test against `url`, on core 1; the run's SIZE CONNS WINDOW
/// WARMUP SECS are appended to it.
fn client_load(name: &str, url: &str) -> Command {
    let mut cmd = pinned(1, bin("client"));
    cmd.arg(name).arg(url);
    cmd
}

fn servers(o: &Options) {
    let running = start_servers(&o.impls);
    let results = run_cells(o, false, |name| echo_load(&server_of(&running, name).addr));
    println!(
        "\n### Echo servers, messages per second (median of {})\n",
        o.reps
    );
    table(o, &results);
}

fn clients(o: &Options) {
    let server = start_neutral();
    let url = format!("ws://{}/", server.addr);
    let results = run_cells(o, true, |name| client_load(name, &url));
    println!(
        "\n### Clients against the neutral server, messages per second (median of {})\n",
        o.reps
    );
    table(o, &results);
}

/// Measures every cell `reps` times, the implementations taking turns within each
/// repetition. `load` gives the measuring command for an implementation; the cell's
/// SIZE CONNS WINDOW WARMUP SECS are appended to it.
///
/// Who goes first changes from one repetition and one cell to the next: the first
/// run of a cell meets what the previous cell left (the neutral side's memory, the
/// kernel's socket buffers), and with a fixed order the same implementation always
/// met it.
///
/// `shared` says that every implementation runs against one long-lived neutral
/// process (the clients' neutral server). The first runs of a cell there also meet a
/// neutral side that has never held that cell's load: at 1 MiB × 64 × 16 it has a
/// gigabyte to fault in, and its first runs made 24, then 616, then about 1 000
/// msg/s, where later ones made 1 200-1 300, whoever ran them. So in the first
/// repetition each cell starts with uncounted runs until the neutral side is warm
/// (see [`warm_up`]). Each server under test is a process of its own, which meets
/// every cell cold once, so the servers' matrix needs none.
fn run_cells(
    o: &Options,
    shared: bool,
    load: impl Fn(&str) -> Command,
) -> BTreeMap<(Cell, String), Vec<f64>> {
    let mut results: BTreeMap<(Cell, String), Vec<f64>> = BTreeMap::new();
    for rep in 0..o.reps {
        for (i, cell @ (size, conns, window)) in cells(o).into_iter().enumerate() {
            let mut order = o.impls.clone();
            let turns = (rep + i) % order.len().max(1);
            order.rotate_left(turns);
            let run = |name: &str, counted: bool| {
                let mut cmd = load(name);
                cmd.arg(size.to_string())
                    .arg(conns.to_string())
                    .arg(window.to_string())
                    .arg(&o.warmup)
                    .arg(&o.secs);
                let rate = measure(cmd);
                eprintln!(
                    "rep {rep} {} x{conns} w{window} {name}: {rate:.0} msg/s{}",
                    show_size(size),
                    if counted {
                        ""
                    } else {
                        " (warming the neutral side, not counted)"
                    }
                );
                rate
            };
            if let Some(first) = order.first().filter(|_| shared && rep == 0) {
                warm_up(|| run(first, false));
            }
            for name in &order {
                let rate = run(name, true);
                results.entry((cell, name.clone())).or_default().push(rate);
            }
        }
    }
    results
}

/// Runs `run` (uncounted) until two runs in a row agree within 15 %, at most five
/// times: the shared neutral side then holds the cell's load, whatever its size.
fn warm_up(mut run: impl FnMut() -> f64) {
    let mut last = run();
    for _ in 1..5 {
        let rate = run();
        if (rate - last).abs() <= 0.15 * rate.max(last) {
            return;
        }
        last = rate;
    }
}

/// The rates per cell, and the ratio of our first implementation listed to each peer.
fn table(o: &Options, results: &BTreeMap<(Cell, String), Vec<f64>>) {
    let peers: Vec<&String> = o.impls.iter().filter(|n| !n.starts_with("ours")).collect();
    let ours = o
        .impls
        .iter()
        .find(|n| n.starts_with("ours"))
        .map_or("ours", String::as_str);
    print!("| size | conns | window |");
    for name in &o.impls {
        print!(" {name} |");
    }
    for peer in &peers {
        print!(" {ours} / {peer} |");
    }
    println!();
    println!("|{}", "---|".repeat(3 + o.impls.len() + peers.len()));
    let mut vs_tungstenite = Vec::new();
    for cell @ (size, conns, window) in cells(o) {
        let rate = |name: &str| {
            median(
                results
                    .get(&(cell, name.to_owned()))
                    .cloned()
                    .unwrap_or_default(),
            )
        };
        print!("| {} | {conns} | {window} |", show_size(size));
        for name in &o.impls {
            print!(" {:.0} |", rate(name));
        }
        for peer in &peers {
            let ratio = rate(ours) / rate(peer);
            if peer.starts_with("tungstenite") {
                vs_tungstenite.push(ratio);
            }
            print!(" {ratio:.2} |");
        }
        println!();
    }
    if !vs_tungstenite.is_empty() {
        println!(
            "\nMedian cell, {ours} / tungstenite: {:.2}",
            median(vs_tungstenite)
        );
    }
    paired(o, results, &peers);
}

/// Each implementation of ours against the best peer, the ratio taken within each
/// repetition and the median of those ratios given. The implementations take turns
/// within a repetition, so its ratios are free of the drift between repetitions,
/// which on a shared VM moves every library at once (by 20 % within one run on
/// 2026-12-06); the medians of the rates above mix repetitions and are not.
fn paired(o: &Options, results: &BTreeMap<(Cell, String), Vec<f64>>, peers: &[&String]) {
    let ours: Vec<&String> = o.impls.iter().filter(|n| n.starts_with("ours")).collect();
    if ours.is_empty() || peers.is_empty() || o.reps < 2 {
        return;
    }
    let rates = |cell: Cell, name: &str| {
        results
            .get(&(cell, name.to_owned()))
            .cloned()
            .unwrap_or_default()
    };
    // Per cell and implementation of ours: the median ratio to the best peer, and to
    // the first peer (tungstenite in every matrix).
    let ratios = |cell: Cell, name: &str| {
        let mine = rates(cell, name);
        let theirs: Vec<Vec<f64>> = peers.iter().map(|p| rates(cell, p)).collect();
        let (mut best, mut first) = (Vec::new(), Vec::new());
        for (rep, rate) in mine.iter().enumerate() {
            let peer = |i: usize| theirs[i].get(rep).copied().unwrap_or(f64::NAN);
            let top = (0..theirs.len()).map(peer).fold(f64::NAN, f64::max);
            best.push(rate / top);
            first.push(rate / peer(0));
        }
        (median(best), median(first))
    };
    println!(
        "\nPaired: within each repetition, ours / the best peer in it (median over repetitions)\n"
    );
    print!("| size | conns | window |");
    for name in &ours {
        print!(" {name} / best peer |");
    }
    println!();
    println!("|{}", "---|".repeat(3 + ours.len()));
    let mut summary: Vec<(usize, Vec<f64>)> = vec![(0, Vec::new()); ours.len()];
    for cell @ (size, conns, window) in cells(o) {
        print!("| {} | {conns} | {window} |", show_size(size));
        for (name, (ahead, vs_first)) in ours.iter().zip(&mut summary) {
            let (best, first) = ratios(cell, name);
            if best >= 0.95 {
                *ahead += 1;
            }
            vs_first.push(first);
            print!(" {best:.2} |");
        }
        println!();
    }
    println!();
    for (name, (ahead, vs_first)) in ours.iter().zip(summary) {
        println!(
            "- {name}: at least 0.95 of the best peer in {ahead} of {} cells; median cell, paired, / {}: {:.2}",
            cells(o).len(),
            peers[0],
            median(vs_first)
        );
    }
}

fn memory(o: &Options) {
    println!(
        "\n### Memory per idle connection ({} connections)\n",
        o.idle
    );
    println!("| server | RSS before | RSS with the connections open | per connection |");
    println!("|---|---|---|---|");
    for name in &o.impls {
        let mut cmd = Command::new(bin("server"));
        cmd.arg(name).arg("127.0.0.1:0");
        let server = Server::start(cmd);
        std::thread::sleep(Duration::from_millis(300));
        let before = ws_bench::rss_of(server.pid()).expect("rss");
        let mut cmd = Command::new(bin("loadgen"));
        cmd.arg("idle").arg(&server.addr).arg(o.idle.to_string());
        // Its line says every connection is open.
        let (mut load, _ready) = spawn_announcing(&mut cmd);
        std::thread::sleep(ws_bench::IDLE_SETTLE);
        let after = ws_bench::rss_of(server.pid()).expect("rss");
        let _ = load.kill();
        let _ = load.wait();
        let per = after.saturating_sub(before) as f64 / o.idle as f64;
        println!(
            "| {name} | {:.1} MiB | {:.1} MiB | {:.0} B |",
            before as f64 / 1048576.0,
            after as f64 / 1048576.0,
            per
        );
    }
}

/// Many connections echoing for a long while: the rate, whether any connection failed
/// (the load generator exits with an error the moment one does), and the server's
/// resident memory once every connection is busy, at the end, at its peak, and after
/// the clients have gone (when idle buffers have been given back).
fn soak(o: &Options) {
    println!(
        "\n### Soak: {} connections echoing {} messages for {} s\n",
        o.soak_conns,
        show_size(o.soak_size),
        o.soak_secs
    );
    // 10 s: ws-async-std's 1 000 connections take about 6 s to all be busy; a shorter
    // soak is sampled halfway.
    let busy_at = Duration::from_secs(10).min(Duration::from_secs(o.soak_secs) / 2);
    println!(
        "| server | messages/s | failed connections | RSS, all busy ({} s) | RSS at the end | \
         peak | RSS {} s after the clients left |",
        busy_at.as_secs_f64(),
        ws_bench::IDLE_SETTLE.as_secs_f64()
    );
    println!("|---|---|---|---|---|---|---|");
    let mib = |b: u64| format!("{:.1} MiB", b as f64 / 1048576.0);
    for name in &o.impls {
        let server = start_server(name);
        let mut cmd = echo_load(&server.addr);
        cmd.arg(o.soak_size.to_string())
            .arg(o.soak_conns.to_string())
            .args(["1", "0"])
            .arg(o.soak_secs.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut load = cmd.spawn().expect("start the load");
        let started = std::time::Instant::now();
        let limit = Duration::from_secs(o.soak_secs + 120);
        let (mut busy, mut last, mut peak) = (None, 0, 0);
        let status = loop {
            if let Some(status) = load.try_wait().expect("the load's status") {
                break Some(status);
            }
            if started.elapsed() > limit {
                let _ = load.kill();
                break None;
            }
            // Often enough that a short soak is sampled near its middle and the peak
            // is not missed.
            std::thread::sleep(Duration::from_millis(250));
            let Ok(rss) = ws_bench::rss_of(server.pid()) else {
                break None; // the server died
            };
            if busy.is_none() && started.elapsed() >= busy_at {
                busy = Some(rss);
            }
            last = rss;
            peak = peak.max(rss);
        };
        let mut rate = String::new();
        if let Some(mut out) = load.stdout.take() {
            let _ = std::io::Read::read_to_string(&mut out, &mut rate);
        }
        let failed = match status {
            Some(s) if s.success() => "none".to_owned(),
            Some(s) => {
                FAILED.store(true, std::sync::atomic::Ordering::Relaxed);
                format!("**yes** ({s})")
            }
            None => {
                FAILED.store(true, std::sync::atomic::Ordering::Relaxed);
                "**the load or the server did not finish**".to_owned()
            }
        };
        std::thread::sleep(ws_bench::IDLE_SETTLE);
        let after = ws_bench::rss_of(server.pid()).unwrap_or(0);
        println!(
            "| {name} | {} | {failed} | {} | {} | {} | {} |",
            rate.trim(),
            busy.map_or("-".into(), mib),
            mib(last),
            mib(peak),
            mib(after)
        );
    }
}

/// Which side of a cell `cpu` measures.
#[derive(Clone, Copy, PartialEq)]
enum Side {
    /// The server under test, under the neutral load generator.
    Server,
    /// The client under test, against the neutral server.
    Client,
}

/// One run of [`cpu`]: the rate, the CPU time per message of the side under test, and
/// that of the neutral side.
struct CpuRun {
    rate: f64,
    /// Share of one core the side under test kept busy, user and kernel.
    busy: f64,
    user_per_message: f64,
    kernel_per_message: f64,
    /// The neutral side's user and kernel time together.
    neutral_per_message: f64,
}

/// `cpu-servers`, `cpu-clients`: every cell for every implementation, each `reps`
/// times; the table shows the median of each figure.
fn cpu(o: &Options, side: Side) {
    let warmup: f64 = o.warmup.parse().expect("--warmup");
    let secs: f64 = o.secs.parse().expect("--secs");
    // As the `servers` and `clients` benchmarks start them: one server per
    // implementation, or the one neutral server.
    let running = match side {
        Side::Server => start_servers(&o.impls),
        Side::Client => Vec::new(),
    };
    let neutral = (side == Side::Client).then(start_neutral);
    let (title, whose) = match side {
        Side::Server => ("Echo servers under the load generator", "the server's"),
        Side::Client => ("Clients against the neutral server", "the client's"),
    };
    println!(
        "\n### {title}: rate, and {whose} CPU time per message (median of {})\n",
        o.reps
    );
    println!(
        "| size | conns | window | implementation | messages/s | core busy | \
         user time per message | kernel time per message | neutral side's time per message |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for cell @ (size, conns, window) in cells(o) {
        for name in &o.impls {
            let mut runs = Vec::new();
            for rep in 0..o.reps {
                // The load is the neutral side (under a server) or the client under
                // test (against the neutral server).
                let (mut load, server) = match &neutral {
                    None => {
                        let server = server_of(&running, name);
                        (echo_load(&server.addr), server.pid())
                    }
                    Some(neutral) => (
                        client_load(name, &format!("ws://{}/", neutral.addr)),
                        neutral.pid(),
                    ),
                };
                load.arg(size.to_string())
                    .arg(conns.to_string())
                    .arg(window.to_string());
                let Some(run) = measure_cpu(load, side, server, warmup, secs) else {
                    FAILED.store(true, std::sync::atomic::Ordering::Relaxed);
                    eprintln!("rep {rep} {cell:?} {name}: failed");
                    continue;
                };
                eprintln!(
                    "rep {rep} {} x{conns} w{window} {name}: {:.0} msg/s, busy {:.0} %, \
                     user {:.1} us, kernel {:.1} us per message; neutral side {:.1} us",
                    show_size(size),
                    run.rate,
                    100.0 * run.busy,
                    1e6 * run.user_per_message,
                    1e6 * run.kernel_per_message,
                    1e6 * run.neutral_per_message
                );
                runs.push(run);
            }
            let med = |f: fn(&CpuRun) -> f64| median(runs.iter().map(f).collect());
            println!(
                "| {} | {conns} | {window} | {name} | {:.0} | {:.0} % | {} | {} | {} |",
                show_size(size),
                med(|r| r.rate),
                100.0 * med(|r| r.busy),
                micros(med(|r| r.user_per_message)),
                micros(med(|r| r.kernel_per_message)),
                micros(med(|r| r.neutral_per_message)),
            );
        }
    }
}

/// A time per message, to a tenth of a microsecond below 100 µs.
fn micros(seconds: f64) -> String {
    let us = seconds * 1e6;
    if us < 100.0 {
        format!("{us:.1} µs")
    } else {
        format!("{us:.0} µs")
    }
}

/// Runs `load` (missing only WARMUP SECS) for `secs` + 1 seconds after its warm-up,
/// and reads the CPU time of the side under test (on `side`: the process `server`, or
/// the load itself) and of the other, neutral, side over `secs` of them, starting
/// 0.1 s into the measured part: the figures are of steady state, not of connecting or
/// of the last messages draining.
fn measure_cpu(
    mut load: Command,
    side: Side,
    server: u32,
    warmup: f64,
    secs: f64,
) -> Option<CpuRun> {
    load.arg(warmup.to_string())
        .arg((secs + 1.0).to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let child = load.spawn().expect("start the load");
    let (measured, other) = match side {
        Side::Server => (server, child.id()),
        Side::Client => (child.id(), server),
    };
    std::thread::sleep(Duration::from_secs_f64(warmup + 0.1));
    let before = (
        ws_bench::cpu_time_of(measured),
        ws_bench::cpu_time_of(other),
    );
    std::thread::sleep(Duration::from_secs_f64(secs));
    let after = (
        ws_bench::cpu_time_of(measured),
        ws_bench::cpu_time_of(other),
    );
    let out = child.wait_with_output().expect("the load's output");
    let rate: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
    let ((u0, k0), (u1, k1)) = (before.0.ok()?, after.0.ok()?);
    let ((nu0, nk0), (nu1, nk1)) = (before.1.ok()?, after.1.ok()?);
    if !out.status.success() || rate <= 0.0 {
        return None;
    }
    let messages = rate * secs;
    Some(CpuRun {
        rate,
        busy: (u1 - u0 + k1 - k0) / secs,
        user_per_message: (u1 - u0) / messages,
        kernel_per_message: (k1 - k0) / messages,
        neutral_per_message: (nu1 - nu0 + nk1 - nk0) / messages,
    })
}
