// SPDX-License-Identifier: GPL-2.0

//! Waits for virtual device 1 to come to the foreground while the
//! multiplexer switches to it, then streams the multiplexer's changes while
//! another thread switches back to virtual device 0.

use std::{thread, time::Duration};
use vdmux::{Access, Mux, Vdev};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mux = Mux::open()?;
    mux.switch(0)?;
    let mut events = mux.events()?;

    // Virtual device 1's own node is enough to wait for it.
    let vdev = Vdev::open_index(1, Access::ReadOnly)?;
    let waiter = thread::spawn(move || vdev.wait_foreground(1));
    mux.switch(1)?;
    waiter.join().expect("the waiter panicked")?;
    println!("virtual device 1 is in the foreground");

    let switcher = thread::spawn(move || {
        thread::sleep(Duration::from_millis(100));
        mux.switch(0)
    });
    let mut changes = 0;
    while changes < 2 {
        let Some(event) = events.next_timeout(Some(Duration::from_secs(10)))? else {
            return Err("no change in 10 s".into());
        };
        changes += event.changes;
        println!(
            "generation {} ({} changes): foreground {:?}",
            event.status.generation, event.changes, event.status.foreground
        );
    }
    switcher.join().expect("the switcher panicked")?;
    // Nothing else changed.
    assert!(events.try_next()?.is_none());
    Ok(())
}
