// SPDX-License-Identifier: GPL-2.0

//! Maps virtual devices 0 and 1, writes to each through its mapping, and
//! switches between them: each mapping keeps seeing its own bytes.

use vdmux::{Access, Mux};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mux = Mux::open()?;
    mux.switch(0)?;
    let (a, b) = (
        mux.vdev(0, Access::ReadWrite)?,
        mux.vdev(1, Access::ReadWrite)?,
    );
    let (map_a, map_b) = (a.map(0, 4096)?, b.map(0, 4096)?);
    map_a.write(0, b"bytes of vdev 0")?;
    map_b.write(0, b"bytes of vdev 1")?;

    for index in [1, 0] {
        mux.switch(index)?;
        let status = mux.status()?;
        let (mut seen_a, mut seen_b) = ([0; 15], [0; 15]);
        map_a.read(0, &mut seen_a)?;
        map_b.read(0, &mut seen_b)?;
        println!(
            "generation {}: foreground {:?}, vdev 0 maps {:?}, vdev 1 maps {:?}",
            status.generation,
            status.foreground,
            String::from_utf8_lossy(&seen_a),
            String::from_utf8_lossy(&seen_b),
        );
        assert_eq!(&seen_a, b"bytes of vdev 0");
        assert_eq!(&seen_b, b"bytes of vdev 1");
    }
    Ok(())
}
