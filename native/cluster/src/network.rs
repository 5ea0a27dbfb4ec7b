//! The node-to-node network: openraft's RPCs over TCP, in Rust, off the
//! JavaScript event loop (docs/CLUSTER-INTERNALS.md, "Network").
//!
//! A connection starts with a hello carrying the cluster token and the
//! sender's node id; a wrong token gets a refusal and the connection is
//! closed. Then requests and answers alternate on it, one at a time:
//!
//! * frame = `len u32 | kind u8 | body[len]`, little-endian; `len` is checked
//!   against [`NetConfig::max_frame_bytes`] before anything is allocated,
//!   and a bad frame closes the connection (never the process);
//! * bodies are openraft's own message types encoded with postcard;
//! * a snapshot travels as a header (vote, meta, size) followed by chunk
//!   frames read from and written to files, never held whole in memory.
//!
//! An AppendEntries whose encoding exceeds the frame limit is answered
//! locally with `PayloadTooLarge`, which makes openraft send fewer entries.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{
    CheckIsLeaderError, Fatal, NetworkError, PayloadTooLarge, RPCError, RaftError, RemoteError,
    ReplicationClosed, StreamingError, Timeout, Unreachable,
};
use openraft::network::{RPCOption, RPCTypes, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse,
};
use openraft::{LogId, Raft, Snapshot, SnapshotMeta, Vote};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinHandle;

use crate::{Member, NodeId, SnapshotFile, TypeConfig};

const KIND_HELLO: u8 = 0;
const KIND_APPEND: u8 = 1;
const KIND_VOTE: u8 = 2;
const KIND_SNAPSHOT: u8 = 3;
const KIND_CHUNK: u8 = 4;
const KIND_READ_INDEX: u8 = 5;
const KIND_IDENTIFY: u8 = 6;
const KIND_ANSWER: u8 = 9;

/// Bytes per snapshot chunk frame.
const CHUNK_BYTES: usize = 1 << 20;

/// Largest hello: read before the sender is authenticated, so it is small
/// whatever the frame limit, and it must arrive within [`HELLO_TIMEOUT`].
const MAX_HELLO_BYTES: u32 = 4096;
const HELLO_TIMEOUT: Duration = Duration::from_secs(5);

/// Settings shared by a node's server and its clients.
#[derive(Clone, Debug)]
pub struct NetConfig {
    /// This node's id (sent in the hello).
    pub node_id: NodeId,
    /// This node's incarnation ([`crate::identity`]); 0 only in tests that
    /// do not check identities.
    pub incarnation: u64,
    /// The cluster's bearer token; every connection must present it.
    pub token: String,
    /// Largest frame sent or accepted.
    pub max_frame_bytes: u32,
    /// Source address of outgoing connections (so a fault proxy in front of
    /// a peer can tell senders apart); `None` lets the OS choose.
    pub source_ip: Option<IpAddr>,
    /// Where received snapshots are written before they are installed.
    pub incoming_dir: PathBuf,
    /// Largest snapshot accepted from a peer (bytes written to disk).
    pub max_snapshot_bytes: u64,
}

/// The first frame of a connection. `to` and `to_incarnation` name the
/// node the sender means to reach (0: any, for an identify request); the
/// receiver refuses a connection meant for another node or another
/// incarnation of itself, and one from a node whose incarnation is not the
/// one the membership records under its id.
#[derive(Serialize, Deserialize)]
struct Hello {
    token: String,
    from: NodeId,
    from_incarnation: u64,
    to: NodeId,
    to_incarnation: u64,
}

/// What an identify request answers: the node's id and incarnation.
pub type IdentifyAnswer = (NodeId, u64);

/// Why the hello is refused, if it is: addressed elsewhere, or from a node
/// that is not the member the cluster knows under its id.
fn hello_refusal(hello: &Hello, cfg: &NetConfig, raft: &Raft<TypeConfig>) -> Option<String> {
    if hello.to != 0 && hello.to != cfg.node_id {
        return Some(format!(
            "this is node {}, not node {}",
            cfg.node_id, hello.to
        ));
    }
    if hello.to_incarnation != 0 && cfg.incarnation != 0 && hello.to_incarnation != cfg.incarnation
    {
        return Some(format!(
            "node {} was wiped or replaced since it joined (its identity file is new): \
             remove node {} from the cluster and add this node under a new id",
            cfg.node_id, cfg.node_id
        ));
    }
    let known = raft
        .metrics()
        .borrow()
        .membership_config
        .membership()
        .get_node(&hello.from)
        .map(|m| m.incarnation);
    match known {
        Some(k) if k != 0 && hello.from_incarnation != k => Some(format!(
            "node {} is not the member this cluster knows under that id (it was wiped or replaced): \
             remove node {} and add it under a new id",
            hello.from, hello.from
        )),
        _ => None,
    }
}

#[derive(Serialize, Deserialize)]
struct SnapshotHeader {
    vote: Vote<NodeId>,
    meta: SnapshotMeta<NodeId, Member>,
    size: u64,
}

#[derive(Debug)]
struct FrameError(String);

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FrameError {}

fn io_err(e: impl std::fmt::Display) -> FrameError {
    FrameError(e.to_string())
}

async fn write_frame(s: &mut TcpStream, kind: u8, body: &[u8], max: u32) -> Result<(), FrameError> {
    if body.len() > max as usize {
        return Err(FrameError(format!(
            "frame of {} bytes exceeds the limit {max}",
            body.len()
        )));
    }
    let mut head = [0u8; 5];
    head[..4].copy_from_slice(&(body.len() as u32).to_le_bytes());
    head[4] = kind;
    s.write_all(&head).await.map_err(io_err)?;
    s.write_all(body).await.map_err(io_err)?;
    Ok(())
}

async fn read_frame(s: &mut TcpStream, max: u32) -> Result<(u8, Vec<u8>), FrameError> {
    let mut head = [0u8; 5];
    s.read_exact(&mut head).await.map_err(io_err)?;
    let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
    if len > max {
        return Err(FrameError(format!(
            "peer sent a frame of {len} bytes, above the limit {max}"
        )));
    }
    let mut body = vec![0u8; len as usize];
    s.read_exact(&mut body).await.map_err(io_err)?;
    Ok((head[4], body))
}

fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, FrameError> {
    postcard::to_stdvec(v).map_err(io_err)
}

fn decode<T: DeserializeOwned>(b: &[u8]) -> Result<T, FrameError> {
    postcard::from_bytes(b).map_err(|e| FrameError(format!("undecodable message: {e}")))
}

/// Constant-time token comparison (BLAKE3 digests compare in constant time).
fn token_ok(given: &str, expected: &str) -> bool {
    blake3::hash(given.as_bytes()) == blake3::hash(expected.as_bytes())
}

/// Serves Raft RPCs for `raft` on `listener` until the returned task is
/// aborted.
pub fn serve(listener: TcpListener, raft: Raft<TypeConfig>, cfg: NetConfig) -> JoinHandle<()> {
    let cfg = Arc::new(cfg);
    tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let _ = stream.set_nodelay(true);
                    conns.spawn(handle(stream, raft.clone(), cfg.clone()));
                }
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
            }
        }
    })
}

static INCOMING: AtomicU64 = AtomicU64::new(0);

async fn handle(
    mut s: TcpStream,
    raft: Raft<TypeConfig>,
    cfg: Arc<NetConfig>,
) -> Result<(), FrameError> {
    let max = cfg.max_frame_bytes;
    let hello = read_frame(&mut s, MAX_HELLO_BYTES.min(max));
    let (kind, body) = tokio::time::timeout(HELLO_TIMEOUT, hello)
        .await
        .map_err(|_| FrameError("no hello in time".into()))??;
    let hello: Hello = if kind == KIND_HELLO {
        decode(&body)?
    } else {
        return Err(FrameError("no hello".into()));
    };
    if !token_ok(&hello.token, &cfg.token) {
        let refusal: Result<(), String> = Err("bad cluster token".into());
        write_frame(&mut s, KIND_ANSWER, &encode(&refusal)?, max).await?;
        return Err(FrameError(format!(
            "node {} presented a bad token",
            hello.from
        )));
    }
    if let Some(why) = hello_refusal(&hello, &cfg, &raft) {
        let refusal: Result<(), String> = Err(why.clone());
        write_frame(&mut s, KIND_ANSWER, &encode(&refusal)?, max).await?;
        return Err(FrameError(why));
    }
    let welcome: Result<(), String> = Ok(());
    write_frame(&mut s, KIND_ANSWER, &encode(&welcome)?, max).await?;
    loop {
        let (kind, body) = read_frame(&mut s, max).await?;
        let answer = match kind {
            KIND_APPEND => {
                let rpc: AppendEntriesRequest<TypeConfig> = decode(&body)?;
                encode(&raft.append_entries(rpc).await)?
            }
            KIND_VOTE => {
                let rpc: VoteRequest<NodeId> = decode(&body)?;
                encode(&raft.vote(rpc).await)?
            }
            KIND_SNAPSHOT => {
                let header: SnapshotHeader = decode(&body)?;
                let path = receive_snapshot(&mut s, &cfg, header.size).await?;
                let checked = {
                    let (path, meta) = (path.clone(), header.meta.clone());
                    tokio::task::spawn_blocking(move || {
                        crate::state_machine::check_received(&path, &meta)
                    })
                    .await
                    .unwrap_or_else(|e| Err(e.to_string()))
                };
                if let Err(why) = checked {
                    let _ = tokio::fs::remove_file(&path).await;
                    return Err(FrameError(why));
                }
                let snapshot = Snapshot {
                    meta: header.meta,
                    snapshot: Box::new(SnapshotFile { path: path.clone() }),
                };
                let result: Result<SnapshotResponse<NodeId>, Fatal<NodeId>> =
                    raft.install_full_snapshot(header.vote, snapshot).await;
                let _ = tokio::fs::remove_file(&path).await;
                encode(&result)?
            }
            KIND_IDENTIFY => {
                let me: IdentifyAnswer = (cfg.node_id, cfg.incarnation);
                encode(&me)?
            }
            KIND_READ_INDEX => {
                // The leader's read index: a follower serving a
                // linearizable read waits until it has applied this far.
                let read = raft.get_read_log_id().await.map(|(read, _applied)| read);
                encode(&read)?
            }
            k => return Err(FrameError(format!("unknown frame kind {k}"))),
        };
        write_frame(&mut s, KIND_ANSWER, &answer, max).await?;
    }
}

async fn receive_snapshot(
    s: &mut TcpStream,
    cfg: &NetConfig,
    size: u64,
) -> Result<PathBuf, FrameError> {
    if size > cfg.max_snapshot_bytes {
        return Err(FrameError(format!(
            "peer announced a snapshot of {size} bytes, above the limit {}",
            cfg.max_snapshot_bytes
        )));
    }
    tokio::fs::create_dir_all(&cfg.incoming_dir)
        .await
        .map_err(io_err)?;
    let path = cfg.incoming_dir.join(format!(
        "incoming-{}.snapshot",
        INCOMING.fetch_add(1, Ordering::Relaxed)
    ));
    let mut file = tokio::fs::File::create(&path).await.map_err(io_err)?;
    let mut got = 0u64;
    while got < size {
        let (kind, body) = read_frame(s, cfg.max_frame_bytes).await?;
        if kind != KIND_CHUNK || got + body.len() as u64 > size {
            let _ = tokio::fs::remove_file(&path).await;
            return Err(FrameError(
                "snapshot stream out of order or longer than announced".into(),
            ));
        }
        file.write_all(&body).await.map_err(io_err)?;
        got += body.len() as u64;
    }
    file.sync_all().await.map_err(io_err)?;
    Ok(path)
}

/// Makes one [`Peer`] per target node.
#[derive(Clone)]
pub struct Network {
    cfg: Arc<NetConfig>,
    /// Open connections for read-index requests, idle between reads, so a
    /// follower's linearizable reads do not each open a connection (and a
    /// hello) to the leader.
    read_peers: Arc<std::sync::Mutex<Vec<Peer>>>,
}

/// Most idle read-index connections kept.
const MAX_IDLE_READ_PEERS: usize = 16;

impl Network {
    pub fn new(cfg: NetConfig) -> Network {
        Network {
            cfg: Arc::new(cfg),
            read_peers: Arc::new(std::sync::Mutex::new(Vec::new())),
        }
    }

    /// Asks `target` (the leader) for its read index over a pooled
    /// connection. A pooled connection that fails (the leader restarted and
    /// it went stale) is retried once on a new one.
    pub async fn read_index(
        &self,
        target: NodeId,
        node: &Member,
        ttl: Duration,
    ) -> Result<ReadIndexAnswer, String> {
        let matches = |p: &Peer| {
            p.target == target
                && p.addr == node.raft_addr
                && p.target_incarnation == node.incarnation
        };
        let pooled = self
            .read_peers
            .lock()
            .ok()
            .and_then(|mut idle| idle.iter().position(matches).map(|i| idle.swap_remove(i)));
        let fresh = || Peer {
            cfg: self.cfg.clone(),
            target,
            target_incarnation: node.incarnation,
            addr: node.raft_addr.clone(),
            conn: None,
            reused: false,
        };
        let started = tokio::time::Instant::now();
        let (mut peer, mut result) = match pooled {
            Some(mut p) => {
                let r = p.read_index(ttl).await;
                (p, r)
            }
            None => {
                let mut p = fresh();
                let r = p.read_index(ttl).await;
                (p, r)
            }
        };
        if result.is_err() && peer.reused {
            let left = ttl.saturating_sub(started.elapsed());
            peer = fresh();
            result = peer.read_index(left).await;
        }
        if result.is_ok() && peer.conn.is_some() {
            peer.reused = true;
            if let Ok(mut idle) = self.read_peers.lock() {
                if idle.len() < MAX_IDLE_READ_PEERS {
                    idle.push(peer);
                }
            }
        }
        result
    }

    /// This node's network settings (for [`identify`]).
    pub fn config(&self) -> Arc<NetConfig> {
        self.cfg.clone()
    }
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Peer;

    async fn new_client(&mut self, target: NodeId, node: &Member) -> Peer {
        Peer {
            cfg: self.cfg.clone(),
            target,
            target_incarnation: node.incarnation,
            addr: node.raft_addr.clone(),
            conn: None,
            reused: false,
        }
    }
}

/// The connection to one peer; reconnects after any failure.
pub struct Peer {
    cfg: Arc<NetConfig>,
    target: NodeId,
    /// The incarnation the membership records for `target` (0: any).
    target_incarnation: u64,
    addr: String,
    conn: Option<TcpStream>,
    /// Taken from the read-index pool (its connection may have gone stale).
    reused: bool,
}

enum CallError {
    /// Could not connect, or the peer refused us.
    Unreachable(FrameError),
    /// The connection failed during the call.
    Network(FrameError),
    TimedOut,
}

impl Peer {
    async fn connect(&self) -> Result<TcpStream, FrameError> {
        let addr: SocketAddr = tokio::net::lookup_host(&self.addr)
            .await
            .map_err(io_err)?
            .next()
            .ok_or_else(|| FrameError(format!("{} resolves to nothing", self.addr)))?;
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        }
        .map_err(io_err)?;
        if let Some(ip) = self.cfg.source_ip {
            socket.bind(SocketAddr::new(ip, 0)).map_err(io_err)?;
        }
        let mut s = socket.connect(addr).await.map_err(io_err)?;
        s.set_nodelay(true).map_err(io_err)?;
        let hello = Hello {
            token: self.cfg.token.clone(),
            from: self.cfg.node_id,
            from_incarnation: self.cfg.incarnation,
            to: self.target,
            to_incarnation: self.target_incarnation,
        };
        write_frame(
            &mut s,
            KIND_HELLO,
            &encode(&hello)?,
            self.cfg.max_frame_bytes,
        )
        .await?;
        let (_, body) = read_frame(&mut s, self.cfg.max_frame_bytes).await?;
        let answer: Result<(), String> = decode(&body)?;
        answer.map_err(|why| {
            FrameError(format!(
                "node {} refused the connection: {why}",
                self.target
            ))
        })?;
        Ok(s)
    }

    /// Sends one request and reads its answer within `ttl`.
    async fn call<T: DeserializeOwned>(
        &mut self,
        kind: u8,
        body: &[u8],
        ttl: Duration,
    ) -> Result<T, CallError> {
        let max = self.cfg.max_frame_bytes;
        let result = tokio::time::timeout(ttl, async {
            if self.conn.is_none() {
                self.conn = Some(self.connect().await.map_err(CallError::Unreachable)?);
            }
            let s = self.conn.as_mut().expect("connected above");
            write_frame(s, kind, body, max)
                .await
                .map_err(CallError::Network)?;
            let (k, answer) = read_frame(s, max).await.map_err(CallError::Network)?;
            if k != KIND_ANSWER {
                return Err(CallError::Network(FrameError(format!(
                    "answer of kind {k}"
                ))));
            }
            decode::<T>(&answer).map_err(CallError::Network)
        })
        .await
        .unwrap_or(Err(CallError::TimedOut));
        if result.is_err() {
            self.conn = None;
        }
        result
    }

    fn rpc_error<E: std::error::Error>(
        &self,
        e: CallError,
        action: RPCTypes,
        ttl: Duration,
    ) -> RPCError<NodeId, Member, RaftError<NodeId, E>> {
        match e {
            CallError::Unreachable(e) => RPCError::Unreachable(Unreachable::new(&e)),
            CallError::Network(e) => RPCError::Network(NetworkError::new(&e)),
            CallError::TimedOut => RPCError::Timeout(Timeout {
                action,
                id: self.cfg.node_id,
                target: self.target,
                timeout: ttl,
            }),
        }
    }
}

/// The answer to a read-index request: the leader's read log id, or why it
/// could not give one (it is no longer the leader).
pub type ReadIndexAnswer =
    Result<Option<LogId<NodeId>>, RaftError<NodeId, CheckIsLeaderError<NodeId, Member>>>;

/// Asks whoever listens at `addr` which node it is (its id and
/// incarnation), within `ttl`. The token is still required.
pub async fn identify(
    addr: &str,
    cfg: Arc<NetConfig>,
    ttl: Duration,
) -> Result<IdentifyAnswer, String> {
    let mut peer = Peer {
        cfg,
        target: 0,
        target_incarnation: 0,
        addr: addr.to_string(),
        conn: None,
        reused: false,
    };
    peer.call::<IdentifyAnswer>(KIND_IDENTIFY, &[], ttl)
        .await
        .map_err(|e| match e {
            CallError::Unreachable(e) | CallError::Network(e) => e.0,
            CallError::TimedOut => format!("no answer within {ttl:?}"),
        })
}

impl Peer {
    /// Asks the peer (the leader) for its read index, within `ttl`.
    pub async fn read_index(&mut self, ttl: Duration) -> Result<ReadIndexAnswer, String> {
        self.call::<ReadIndexAnswer>(KIND_READ_INDEX, &[], ttl)
            .await
            .map_err(|e| match e {
                CallError::Unreachable(e) | CallError::Network(e) => e.0,
                CallError::TimedOut => format!("no answer within {ttl:?}"),
            })
    }
}

impl RaftNetwork<TypeConfig> for Peer {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, Member, RaftError<NodeId>>> {
        let n = rpc.entries.len() as u64;
        let body = encode(&rpc).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        if body.len() > self.cfg.max_frame_bytes as usize {
            return Err(RPCError::PayloadTooLarge(
                PayloadTooLarge::new_entries_hint((n / 2).max(1)),
            ));
        }
        let ttl = option.hard_ttl();
        let answer: Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>> = self
            .call(KIND_APPEND, &body, ttl)
            .await
            .map_err(|e| self.rpc_error(e, RPCTypes::AppendEntries, ttl))?;
        answer.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, Member, RaftError<NodeId>>> {
        let body = encode(&rpc).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let ttl = option.hard_ttl();
        let answer: Result<VoteResponse<NodeId>, RaftError<NodeId>> = self
            .call(KIND_VOTE, &body, ttl)
            .await
            .map_err(|e| self.rpc_error(e, RPCTypes::Vote, ttl))?;
        answer.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote<NodeId>,
        snapshot: Snapshot<TypeConfig>,
        cancel: impl Future<Output = ReplicationClosed> + Send + 'static,
        _option: RPCOption,
    ) -> Result<SnapshotResponse<NodeId>, StreamingError<TypeConfig, Fatal<NodeId>>> {
        let send = self.send_snapshot(vote, snapshot);
        tokio::select! {
            closed = cancel => {
                self.conn = None;
                Err(StreamingError::Closed(closed))
            }
            result = send => {
                if result.is_err() {
                    self.conn = None;
                }
                result
            }
        }
    }
}

impl Peer {
    async fn send_snapshot(
        &mut self,
        vote: Vote<NodeId>,
        snapshot: Snapshot<TypeConfig>,
    ) -> Result<SnapshotResponse<NodeId>, StreamingError<TypeConfig, Fatal<NodeId>>> {
        let net = |e: FrameError| StreamingError::Network(NetworkError::new(&e));
        let mut file = tokio::fs::File::open(&snapshot.snapshot.path)
            .await
            .map_err(|e| net(io_err(e)))?;
        let size = file.metadata().await.map_err(|e| net(io_err(e)))?.len();
        if self.conn.is_none() {
            let s = self
                .connect()
                .await
                .map_err(|e| StreamingError::Unreachable(Unreachable::new(&e)))?;
            self.conn = Some(s);
        }
        let max = self.cfg.max_frame_bytes;
        let s = self.conn.as_mut().expect("connected above");
        let header = SnapshotHeader {
            vote,
            meta: snapshot.meta.clone(),
            size,
        };
        write_frame(s, KIND_SNAPSHOT, &encode(&header).map_err(net)?, max)
            .await
            .map_err(net)?;
        let mut buf = vec![0u8; CHUNK_BYTES.min(max as usize)];
        let mut sent = 0u64;
        while sent < size {
            let n = file.read(&mut buf).await.map_err(|e| net(io_err(e)))?;
            if n == 0 {
                return Err(net(FrameError(
                    "snapshot file shorter than its size".into(),
                )));
            }
            write_frame(s, KIND_CHUNK, &buf[..n], max)
                .await
                .map_err(net)?;
            sent += n as u64;
        }
        let (k, answer) = read_frame(s, max).await.map_err(net)?;
        if k != KIND_ANSWER {
            return Err(net(FrameError(format!("answer of kind {k}"))));
        }
        let result: Result<SnapshotResponse<NodeId>, Fatal<NodeId>> =
            decode(&answer).map_err(net)?;
        result.map_err(|e| StreamingError::RemoteError(RemoteError::new(self.target, e)))
    }
}
