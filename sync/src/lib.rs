//! goro's `sync` toolkit: WaitGroup, Once, Mutex, RwMutex, Pool, Cond, Semaphore, ErrGroup
//! (to come: see the sync issue). Every primitive will park a goroutine's G through
//! [`runtime::Waiter`] and block a plain thread on a futex.
