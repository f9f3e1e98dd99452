//! The `select!` proc macro (to come: see the select! issue). It will expand onto the chan
//! crate's dynamic `Select` engine.
