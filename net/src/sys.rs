//! The system-call layer under every socket type: a [`Socket`] is a [`runtime::PollFd`] plus
//! the socket calls, each retried through the netpoller on `EAGAIN`.

use runtime::PollFd;
use std::io;
use std::mem::{MaybeUninit, size_of};
use std::net::{Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::SocketAddr as UnixSocketAddr;
use std::path::Path;
use std::time::Instant;

/// `-1` from a system call becomes the thread's `errno`.
pub(crate) fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn cvt_size(r: libc::ssize_t) -> io::Result<usize> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as usize)
    }
}

/// A socket registered with the netpoller.
#[derive(Debug)]
pub(crate) struct Socket {
    pub(crate) fd: PollFd,
}

/// A socket address in the kernel's form.
pub(crate) struct RawAddr {
    pub(crate) storage: libc::sockaddr_storage,
    pub(crate) len: libc::socklen_t,
}

impl RawAddr {
    fn zeroed() -> RawAddr {
        RawAddr {
            // SAFETY: all-zero is a valid sockaddr_storage.
            storage: unsafe { MaybeUninit::zeroed().assume_init() },
            len: size_of::<libc::sockaddr_storage>() as libc::socklen_t,
        }
    }

    fn ptr(&self) -> *const libc::sockaddr {
        (&self.storage as *const libc::sockaddr_storage).cast()
    }

    fn mut_ptr(&mut self) -> *mut libc::sockaddr {
        (&mut self.storage as *mut libc::sockaddr_storage).cast()
    }

    pub(crate) fn from_inet(addr: &SocketAddr) -> RawAddr {
        let mut r = RawAddr::zeroed();
        match addr {
            SocketAddr::V4(a) => {
                let sin = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: a.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from_ne_bytes(a.ip().octets()),
                    },
                    sin_zero: [0; 8],
                };
                // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
                unsafe { std::ptr::write(r.mut_ptr().cast(), sin) };
                r.len = size_of::<libc::sockaddr_in>() as libc::socklen_t;
            }
            SocketAddr::V6(a) => {
                let sin6 = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: a.port().to_be(),
                    sin6_flowinfo: a.flowinfo(),
                    sin6_addr: libc::in6_addr {
                        s6_addr: a.ip().octets(),
                    },
                    sin6_scope_id: a.scope_id(),
                };
                // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
                unsafe { std::ptr::write(r.mut_ptr().cast(), sin6) };
                r.len = size_of::<libc::sockaddr_in6>() as libc::socklen_t;
            }
        }
        r
    }

    pub(crate) fn from_path(path: &Path) -> io::Result<RawAddr> {
        use std::os::unix::ffi::OsStrExt;
        let bytes = path.as_os_str().as_bytes();
        let mut r = RawAddr::zeroed();
        // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_un.
        let sun: &mut libc::sockaddr_un = unsafe { &mut *r.mut_ptr().cast() };
        if bytes.len() >= sun.sun_path.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "path must be shorter than SUN_LEN",
            ));
        }
        if bytes.contains(&0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "paths must not contain interior null bytes",
            ));
        }
        sun.sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (d, &s) in sun.sun_path.iter_mut().zip(bytes) {
            *d = s as libc::c_char;
        }
        let base = std::mem::offset_of!(libc::sockaddr_un, sun_path);
        // An empty path is the family alone: bind autobinds an abstract name, as std does.
        r.len = if bytes.is_empty() {
            base
        } else {
            base + bytes.len() + 1
        } as libc::socklen_t;
        Ok(r)
    }

    /// A Unix address in Go's spelling: `@name` is the abstract name `name` (Linux), anything
    /// else a path.
    pub(crate) fn from_go_unix(address: &str) -> io::Result<RawAddr> {
        let Some(name) = address.strip_prefix('@') else {
            return RawAddr::from_path(Path::new(address));
        };
        let mut r = RawAddr::zeroed();
        // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_un.
        let sun: &mut libc::sockaddr_un = unsafe { &mut *r.mut_ptr().cast() };
        if name.len() + 1 > sun.sun_path.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "abstract name must be shorter than SUN_LEN",
            ));
        }
        sun.sun_family = libc::AF_UNIX as libc::sa_family_t;
        // sun_path[0] stays 0: abstract.
        for (d, &s) in sun.sun_path[1..].iter_mut().zip(name.as_bytes()) {
            *d = s as libc::c_char;
        }
        r.len =
            (std::mem::offset_of!(libc::sockaddr_un, sun_path) + 1 + name.len()) as libc::socklen_t;
        Ok(r)
    }

    pub(crate) fn to_inet(&self) -> io::Result<SocketAddr> {
        match self.storage.ss_family as libc::c_int {
            libc::AF_INET => {
                // SAFETY: the kernel wrote a sockaddr_in (family checked).
                let a: &libc::sockaddr_in = unsafe { &*self.ptr().cast() };
                Ok(SocketAddr::V4(SocketAddrV4::new(
                    Ipv4Addr::from(a.sin_addr.s_addr.to_ne_bytes()),
                    u16::from_be(a.sin_port),
                )))
            }
            libc::AF_INET6 => {
                // SAFETY: the kernel wrote a sockaddr_in6 (family checked).
                let a: &libc::sockaddr_in6 = unsafe { &*self.ptr().cast() };
                Ok(SocketAddr::V6(SocketAddrV6::new(
                    Ipv6Addr::from(a.sin6_addr.s6_addr),
                    u16::from_be(a.sin6_port),
                    a.sin6_flowinfo,
                    a.sin6_scope_id,
                )))
            }
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not an internet socket address",
            )),
        }
    }

    pub(crate) fn to_unix(&self) -> io::Result<UnixSocketAddr> {
        use std::os::linux::net::SocketAddrExt;
        use std::os::unix::ffi::OsStrExt;
        // An unnamed peer (an unbound datagram sender) comes back with no address at all.
        let unnamed = (self.len as usize) < std::mem::size_of::<libc::sa_family_t>();
        if !unnamed && self.storage.ss_family as libc::c_int != libc::AF_UNIX {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a unix socket address",
            ));
        }
        // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_un; the kernel
        // wrote one (family checked above), or nothing (unnamed: zeroed storage, len 0).
        let sun: &libc::sockaddr_un = unsafe { &*self.ptr().cast() };
        let base = std::mem::offset_of!(libc::sockaddr_un, sun_path);
        let n = (self.len as usize)
            .saturating_sub(base)
            .min(sun.sun_path.len());
        let path: Vec<u8> = sun.sun_path[..n].iter().map(|&c| c as u8).collect();
        match path.first() {
            // Unnamed (a socketpair, an unbound client).
            None => UnixSocketAddr::from_pathname(""),
            Some(0) => UnixSocketAddr::from_abstract_name(&path[1..]),
            Some(_) => {
                let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
                UnixSocketAddr::from_pathname(std::ffi::OsStr::from_bytes(&path[..end]))
            }
        }
        .or_else(|_| UnixSocketAddr::from_pathname(""))
    }
}

fn family(addr: &SocketAddr) -> libc::c_int {
    match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    }
}

impl Socket {
    /// A new non-blocking, close-on-exec socket, registered with the netpoller.
    pub(crate) fn new(domain: libc::c_int, ty: libc::c_int) -> io::Result<Socket> {
        // SAFETY: plain system call; the result is checked.
        let fd =
            cvt(unsafe { libc::socket(domain, ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0) })?;
        // SAFETY: a fresh fd we own.
        Socket::from_owned(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    pub(crate) fn new_inet(addr: &SocketAddr, ty: libc::c_int) -> io::Result<Socket> {
        Socket::new(family(addr), ty)
    }

    pub(crate) fn from_owned(fd: OwnedFd) -> io::Result<Socket> {
        Ok(Socket {
            fd: PollFd::new(fd)?,
        })
    }

    pub(crate) fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    pub(crate) fn setsockopt<T>(
        &self,
        level: libc::c_int,
        name: libc::c_int,
        v: T,
    ) -> io::Result<()> {
        self.fd.with_fd(|fd| {
            // SAFETY: `v` is a valid T of the given size for the duration of the call.
            cvt(unsafe {
                libc::setsockopt(
                    fd,
                    level,
                    name,
                    (&v as *const T).cast(),
                    size_of::<T>() as libc::socklen_t,
                )
            })
            .map(drop)
        })
    }

    /// An `int`-valued socket option (every option goro reads is one).
    pub(crate) fn getsockopt_int(
        &self,
        level: libc::c_int,
        name: libc::c_int,
    ) -> io::Result<libc::c_int> {
        self.fd.with_fd(|fd| {
            let mut v: libc::c_int = 0;
            let mut len = size_of::<libc::c_int>() as libc::socklen_t;
            // SAFETY: a buffer of `len` bytes (an int) for the kernel to fill.
            cvt(unsafe {
                libc::getsockopt(
                    fd,
                    level,
                    name,
                    (&mut v as *mut libc::c_int).cast(),
                    &mut len,
                )
            })?;
            Ok(v)
        })
    }

    pub(crate) fn bind(&self, addr: &RawAddr) -> io::Result<()> {
        // SAFETY: a valid address of `len` bytes.
        self.fd
            .with_fd(|fd| cvt(unsafe { libc::bind(fd, addr.ptr(), addr.len) }).map(drop))
    }

    pub(crate) fn listen(&self, backlog: i32) -> io::Result<()> {
        // SAFETY: plain system call on our fd.
        self.fd
            .with_fd(|fd| cvt(unsafe { libc::listen(fd, backlog) }).map(drop))
    }

    /// Connects, waiting (through the netpoller) for a connection in progress, until
    /// `deadline` if given.
    pub(crate) fn connect(&self, addr: &RawAddr, deadline: Option<Instant>) -> io::Result<()> {
        // SAFETY: a valid address of `len` bytes.
        let r = self.connect_once(addr);
        if addr.storage.ss_family as libc::c_int == libc::AF_UNIX
            && matches!(&r, Err(e) if e.raw_os_error() == Some(libc::EAGAIN))
        {
            return self.connect_unix_backoff(addr, deadline);
        }
        match r {
            Ok(_) => return Ok(()),
            Err(e)
                if e.raw_os_error() == Some(libc::EINPROGRESS)
                    || e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
        if deadline.is_some() {
            self.fd.set_write_deadline(deadline)?;
        }
        let r = self.fd.write_with(|_| {
            // Writable means the connect finished, one way or the other.
            let err = self.getsockopt_int(libc::SOL_SOCKET, libc::SO_ERROR)?;
            match err {
                0 => {
                    // Spurious writability (edge from before the connect)? A connected
                    // socket has a peer.
                    match self.peer_raw() {
                        Ok(_) => Ok(()),
                        Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => {
                            Err(io::ErrorKind::WouldBlock.into())
                        }
                        Err(e) => Err(e),
                    }
                }
                e => Err(io::Error::from_raw_os_error(e)),
            }
        });
        if deadline.is_some() {
            // The connection's own write deadline starts cleared, as in Go.
            let _ = self.fd.set_write_deadline(None);
        }
        r
    }

    fn connect_once(&self, addr: &RawAddr) -> io::Result<libc::c_int> {
        // SAFETY: a valid address of `len` bytes.
        self.fd
            .with_fd(|fd| cvt(unsafe { libc::connect(fd, addr.ptr(), addr.len) }))
    }

    /// A Unix stream connect whose listener's backlog is full fails with `EAGAIN` and no
    /// readiness will say when there is room: retry with a growing sleep (1 ms doubling to
    /// 64 ms), as a blocking connect would wait, until `deadline`.
    fn connect_unix_backoff(&self, addr: &RawAddr, deadline: Option<Instant>) -> io::Result<()> {
        let mut pause = std::time::Duration::from_millis(1);
        loop {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(runtime::timeout_error());
            }
            runtime::sleep(match deadline {
                Some(d) => pause.min(d.saturating_duration_since(Instant::now())),
                None => pause,
            });
            match self.connect_once(addr) {
                Ok(_) => return Ok(()),
                Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
            pause = (pause * 2).min(std::time::Duration::from_millis(64));
        }
    }

    /// Accepts a connection, parking until one arrives; the new socket is registered too.
    pub(crate) fn accept(&self) -> io::Result<(Socket, RawAddr)> {
        let (fd, addr) = self.fd.read_with(|fd| {
            loop {
                let mut addr = RawAddr::zeroed();
                // SAFETY: a buffer of `addr.len` bytes for the peer's address.
                let r = unsafe {
                    libc::accept4(
                        fd,
                        addr.mut_ptr(),
                        &mut addr.len,
                        libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                    )
                };
                match cvt(r) {
                    Ok(nfd) => return Ok((nfd, addr)),
                    // The connection was reset while queued: take the next one at once (Go
                    // does too). Waiting instead could sleep through connections already
                    // queued, which raise no new edge.
                    Err(e) if e.raw_os_error() == Some(libc::ECONNABORTED) => {}
                    Err(e) => return Err(e),
                }
            }
        })?;
        // SAFETY: a fresh fd from accept4, ours.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok((Socket::from_owned(owned)?, addr))
    }

    pub(crate) fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.fd.read_with(|fd| {
            // SAFETY: a writable buffer of buf.len() bytes. recv, not read: the socket path
            // skips the VFS layer (fdget_pos, vfs_read, the iter conversion).
            cvt_size(unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) })
        })
    }

    pub(crate) fn read_vectored(&self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
        self.fd.read_with(|fd| {
            // SAFETY: IoSliceMut is ABI-compatible with iovec; at most IOV_MAX entries.
            cvt_size(unsafe {
                libc::readv(
                    fd,
                    bufs.as_mut_ptr().cast(),
                    bufs.len().min(1024) as libc::c_int,
                )
            })
        })
    }

    pub(crate) fn write(&self, buf: &[u8]) -> io::Result<usize> {
        self.fd.write_with(|fd| {
            // SAFETY: a readable buffer of buf.len() bytes. MSG_NOSIGNAL: a closed peer gives
            // EPIPE, not SIGPIPE.
            cvt_size(unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL) })
        })
    }

    pub(crate) fn write_vectored(&self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.fd.write_with(|fd| {
            // SAFETY: an msghdr over IoSlices (ABI-compatible with iovec); no name, no control.
            let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
            msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
            msg.msg_iovlen = bufs.len().min(1024) as _;
            // SAFETY: `msg` points at `bufs`' iovecs (at most 1024, each a live IoSlice), which
            // outlive the call; the kernel only reads them.
            cvt_size(unsafe { libc::sendmsg(fd, &msg, libc::MSG_NOSIGNAL) })
        })
    }

    /// Writes all of `buf`, as Go's `Write` does (a short write is retried).
    pub(crate) fn write_all(&self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.write(buf) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => buf = &buf[n..],
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    pub(crate) fn recv_from(
        &self,
        buf: &mut [u8],
        flags: libc::c_int,
    ) -> io::Result<(usize, RawAddr)> {
        self.fd.read_with(|fd| {
            let mut addr = RawAddr::zeroed();
            // SAFETY: valid buffers of the given sizes.
            let n = cvt_size(unsafe {
                libc::recvfrom(
                    fd,
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    flags,
                    addr.mut_ptr(),
                    &mut addr.len,
                )
            })?;
            Ok((n, addr))
        })
    }

    pub(crate) fn recv(&self, buf: &mut [u8], flags: libc::c_int) -> io::Result<usize> {
        self.fd.read_with(|fd| {
            // SAFETY: a writable buffer of buf.len() bytes.
            cvt_size(unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), flags) })
        })
    }

    pub(crate) fn send_to(&self, buf: &[u8], addr: &RawAddr) -> io::Result<usize> {
        self.fd.write_with(|fd| {
            // SAFETY: valid buffers of the given sizes.
            cvt_size(unsafe {
                libc::sendto(
                    fd,
                    buf.as_ptr().cast(),
                    buf.len(),
                    libc::MSG_NOSIGNAL,
                    addr.ptr(),
                    addr.len,
                )
            })
        })
    }

    fn name(&self, peer: bool) -> io::Result<RawAddr> {
        self.fd.with_fd(|fd| {
            let mut addr = RawAddr::zeroed();
            // SAFETY: a buffer of `addr.len` bytes.
            cvt(unsafe {
                if peer {
                    libc::getpeername(fd, addr.mut_ptr(), &mut addr.len)
                } else {
                    libc::getsockname(fd, addr.mut_ptr(), &mut addr.len)
                }
            })?;
            Ok(addr)
        })
    }

    pub(crate) fn local_raw(&self) -> io::Result<RawAddr> {
        self.name(false)
    }

    pub(crate) fn peer_raw(&self) -> io::Result<RawAddr> {
        self.name(true)
    }

    pub(crate) fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        let how = match how {
            Shutdown::Read => libc::SHUT_RD,
            Shutdown::Write => libc::SHUT_WR,
            Shutdown::Both => libc::SHUT_RDWR,
        };
        // SAFETY: plain system call on our fd.
        self.fd
            .with_fd(|fd| cvt(unsafe { libc::shutdown(fd, how) }).map(drop))
    }

    pub(crate) fn take_error(&self) -> io::Result<Option<io::Error>> {
        let e = self.getsockopt_int(libc::SOL_SOCKET, libc::SO_ERROR)?;
        Ok((e != 0).then(|| io::Error::from_raw_os_error(e)))
    }
}

/// The fd of a socket with no other handle, out of the netpoller.
pub(crate) fn into_fd(inner: std::sync::Arc<Socket>) -> io::Result<OwnedFd> {
    match std::sync::Arc::try_unwrap(inner) {
        Ok(s) => s.fd.into_fd(),
        Err(_) => Err(io::Error::other(
            "into_std: another handle (try_clone) shares this socket",
        )),
    }
}
