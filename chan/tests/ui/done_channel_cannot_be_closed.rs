// A context's done channel is receive-only: nothing outside the context can close it (Go:
// `close(ctx.Done())` does not compile).
fn main() {
    let (ctx, _cancel) = chan::context::with_cancel(&chan::context::background());
    ctx.done().as_chan().close();
}
