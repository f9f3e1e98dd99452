//! What every socket type shares: Go's deadlines and `Close`, the fd traits, `Debug`, and
//! (for streams) `Read`/`Write` on both `T` and `&T`.

/// Implements, for a type with an `inner: Arc<Socket>` field: `set_deadline`,
/// `set_read_deadline`, `set_write_deadline`, `close`, `is_closed`, `take_error`,
/// `try_clone`, `from_std`/`into_std` (with the std type `$std`), `AsFd`, `AsRawFd` and
/// `Debug`.
macro_rules! go_socket {
    ($t:ident, $std:ty, $go:literal) => {
        impl $t {
            #[doc = concat!("Wraps a std `", stringify!($std), "` (made non-blocking and registered with the netpoller).")]
            pub fn from_std(s: $std) -> std::io::Result<$t> {
                Ok($t {
                    inner: std::sync::Arc::new(crate::sys::Socket::from_owned(
                        std::os::fd::OwnedFd::from(s),
                    )?),
                })
            }

            /// Back to the std type, in blocking mode. Fails if another handle
            /// ([`try_clone`](Self::try_clone)) still shares the socket, or after `close`.
            pub fn into_std(self) -> std::io::Result<$std> {
                Ok(<$std>::from(crate::sys::into_fd(self.inner)?))
            }

            #[doc = concat!("Sets the read and write deadlines (Go's `", $go, ".SetDeadline`).")]
            ///
            /// Operations blocked now and later fail with [`std::io::ErrorKind::TimedOut`]
            /// once `at` has passed, even if they are already waiting; an expired deadline
            /// also fails an operation that could complete at once. `None` clears it. A
            /// deadline is absolute: to time out idle connections, extend it after each
            /// successful operation.
            pub fn set_deadline(&self, at: Option<std::time::Instant>) -> std::io::Result<()> {
                self.inner.fd.set_deadline(at)
            }

            /// Sets the read deadline (see [`set_deadline`](Self::set_deadline)).
            pub fn set_read_deadline(&self, at: Option<std::time::Instant>) -> std::io::Result<()> {
                self.inner.fd.set_read_deadline(at)
            }

            /// Sets the write deadline (see [`set_deadline`](Self::set_deadline)).
            pub fn set_write_deadline(
                &self,
                at: Option<std::time::Instant>,
            ) -> std::io::Result<()> {
                self.inner.fd.set_write_deadline(at)
            }

            #[doc = concat!("Closes the socket for every handle at once (Go's `", $go, ".Close`).")]
            ///
            /// Blocked operations wake with an error that [`crate::is_closed`] recognises
            /// (Go's `net.ErrClosed`), and so does every later operation on this handle or a
            /// [`try_clone`](Self::try_clone) of it. The socket itself is released when the
            /// last operation in flight has returned. Closing twice is an error, as in Go;
            /// dropping the last handle closes it too.
            pub fn close(&self) -> std::io::Result<()> {
                self.inner.fd.close()
            }

            /// Whether [`close`](Self::close) was called on this socket (through any handle).
            pub fn is_closed(&self) -> bool {
                self.inner.fd.is_closed()
            }

            /// Test support, not API: whether a goroutine or thread waits now for the socket
            /// to become readable (`read`) or writable (`runtime::PollFd::__is_waiting`).
            #[doc(hidden)]
            pub fn __is_waiting(&self, read: bool) -> bool {
                self.inner.fd.__is_waiting(read)
            }

            /// Takes the pending error of the socket (`SO_ERROR`), if any.
            pub fn take_error(&self) -> std::io::Result<Option<std::io::Error>> {
                self.inner.take_error()
            }

            /// Another handle to the same socket (not a `dup`: [`close`](Self::close) on
            /// either closes both; dropping one leaves the other open).
            pub fn try_clone(&self) -> std::io::Result<$t> {
                if self.inner.fd.is_closed() {
                    return Err(runtime::closed_error());
                }
                Ok($t {
                    inner: self.inner.clone(),
                })
            }
        }

        impl std::os::fd::AsRawFd for $t {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                self.inner.raw()
            }
        }

        impl std::os::fd::AsFd for $t {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                self.inner.fd.as_fd()
            }
        }

        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let mut d = f.debug_struct(stringify!($t));
                d.field("fd", &self.inner.raw());
                if self.inner.fd.is_closed() {
                    d.field("closed", &true);
                }
                d.finish()
            }
        }
    };
}

/// `Read` and `Write` for `T` and `&T` of a stream type with an `inner: Arc<Socket>`.
macro_rules! stream_io {
    ($t:ident) => {
        impl std::io::Read for &$t {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.inner.read(buf)
            }
            fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                self.inner.read_vectored(bufs)
            }
        }

        impl std::io::Write for &$t {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.inner.write(buf)
            }
            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                self.inner.write_vectored(bufs)
            }
            fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
                self.inner.write_all(buf)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }

        impl std::io::Read for $t {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                (&*self).read(buf)
            }
            fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                (&*self).read_vectored(bufs)
            }
        }

        impl std::io::Write for $t {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                (&*self).write(buf)
            }
            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                (&*self).write_vectored(bufs)
            }
            fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
                (&*self).write_all(buf)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
    };
}

pub(crate) use {go_socket, stream_io};
