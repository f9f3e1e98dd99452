//! Goroutine-local storage: `goroutine_local!`, the replacement for `thread_local!` in code
//! that runs on goroutines (which may move between threads at any park point).
//!
//! Each G has a small map from key index to boxed value, filled lazily and dropped when the
//! goroutine ends (on the goroutine, like thread-locals on their thread). On a thread that is
//! not running a goroutine, the same keys fall back to a per-thread map.

use std::any::Any;
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicUsize, Ordering};

type Slots = Vec<Option<Box<dyn Any + Send>>>;

/// Values of one goroutine (or thread), indexed by key. Boxed, allocated on first use: the
/// map is one word of every G record (which a million parked goroutines pay for), and few
/// goroutines use goroutine-locals.
#[derive(Default)]
pub(crate) struct LocalMap {
    slots: Option<Box<Slots>>,
}

impl LocalMap {
    pub(crate) const fn new() -> LocalMap {
        LocalMap { slots: None }
    }

    fn slots(&self) -> &[Option<Box<dyn Any + Send>>] {
        self.slots.as_deref().map_or(&[], |v| v.as_slice())
    }

    fn slots_mut(&mut self) -> &mut Slots {
        self.slots.get_or_insert_with(Box::default)
    }
}

static NEXT_KEY: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static THREAD_LOCALS: UnsafeCell<LocalMap> = const { UnsafeCell::new(LocalMap::new()) };
}

/// A goroutine-local key, made by [`goroutine_local!`](crate::goroutine_local!).
pub struct LocalKey<T: 'static> {
    init: fn() -> T,
    /// Index + 1, or 0 until first use.
    index: AtomicUsize,
}

impl<T: Send + 'static> LocalKey<T> {
    #[doc(hidden)]
    pub const fn new(init: fn() -> T) -> LocalKey<T> {
        LocalKey {
            init,
            index: AtomicUsize::new(0),
        }
    }

    fn index(&self) -> usize {
        let i = self.index.load(Ordering::Acquire);
        if i != 0 {
            return i - 1;
        }
        let fresh = NEXT_KEY.fetch_add(1, Ordering::Relaxed) + 1;
        match self
            .index
            .compare_exchange(0, fresh, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => fresh - 1,
            Err(won) => won - 1,
        }
    }

    /// Calls `f` with this goroutine's value, initialising it on first use.
    ///
    /// `f` may park: the value belongs to the goroutine, not to the thread it runs on.
    pub fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        let idx = self.index();
        let map: *mut LocalMap = match crate::m::current_g() {
            Some(g) => g.locals.get(),
            None => THREAD_LOCALS.with(|c| c.get()),
        };
        // SAFETY: a map is only touched by the goroutine (or thread) it belongs to, which is
        // us. We never hold a reference into `slots` across user code: `init` runs with no
        // borrow, and `f` gets a pointer into the value's Box, which a Vec reallocation does
        // not move and which is only dropped when the goroutine ends.
        unsafe {
            let present = (*map).slots().get(idx).is_some_and(|s| s.is_some());
            if !present {
                let v: Box<dyn Any + Send> = Box::new((self.init)());
                let slots = (*map).slots_mut();
                if slots.len() <= idx {
                    slots.resize_with(idx + 1, || None);
                }
                slots[idx] = Some(v);
            }
            let v: *const T = (*map).slots()[idx]
                .as_ref()
                .and_then(|b| b.downcast_ref::<T>())
                .expect("goroutine_local: slot holds another type")
                as *const T;
            f(&*v)
        }
    }
}

/// Drops a finished goroutine's locals (destructors may create new ones; retry a few times,
/// as pthread keys do).
pub(crate) fn drop_locals(g: &crate::g::G) {
    for _ in 0..4 {
        // SAFETY: called on the goroutine itself as it ends: we are the map's only user.
        let map = unsafe { std::mem::take(&mut *g.locals.get()) };
        if map.slots().is_empty() {
            return;
        }
        drop(map);
    }
}

/// Declares goroutine-local statics: like `thread_local!`, but each goroutine gets its own
/// value, which stays with it when it moves between threads. Values must be `Send`.
///
/// ```
/// use std::cell::Cell;
/// runtime::goroutine_local! {
///     static COUNTER: Cell<u32> = Cell::new(0);
/// }
/// let a = runtime::spawn(|| { COUNTER.with(|c| c.set(c.get() + 1)); COUNTER.with(|c| c.get()) });
/// let b = runtime::spawn(|| COUNTER.with(|c| c.get()));
/// assert_eq!((a.join().unwrap(), b.join().unwrap()), (1, 0));
/// ```
#[macro_export]
macro_rules! goroutine_local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident : $t:ty = $init:expr; $($rest:tt)*) => {
        $(#[$attr])*
        $vis static $name: $crate::LocalKey<$t> = $crate::LocalKey::new({
            fn __goro_local_init() -> $t {
                $init
            }
            __goro_local_init
        });
        $crate::goroutine_local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident : $t:ty = $init:expr) => {
        $crate::goroutine_local!($(#[$attr])* $vis static $name: $t = $init;);
    };
}
