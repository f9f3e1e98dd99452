// select!'s hidden operand path does not hand out the channel behind a Receiver either.
use chan::__private::RecvOperand;

fn main() {
    let ch = chan::make::<i32>(1);
    let rx = ch.receiver();
    let nil = chan::Chan::nil();
    let side = rx.recv_chan(&nil);
    side.0.close();
}
