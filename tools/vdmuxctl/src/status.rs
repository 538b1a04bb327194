// SPDX-License-Identifier: GPL-2.0

//! What `status` and `watch` know about the device, and how they print it.

use crate::size::format_size;
use serde::Serialize;
use std::fmt::Write as _;
pub use vdmux::{
    Ctxmgt,
    State, //
};

/// `VDMUX_IOC_GET_STATUS` of one virtual device's node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VdevStatus {
    pub index: u32,
    pub state: State,
    /// Its size in bytes: the reserved size.
    pub size: u64,
    /// Bumped on every state change of this virtual device.
    pub generation: u64,
}

impl VdevStatus {
    pub fn new(status: &vdmux::Status) -> Self {
        Self {
            // A virtual device's status always has its index.
            index: status.index.unwrap_or_default(),
            state: status.state,
            size: status.reserved_size,
            generation: status.generation,
        }
    }
}

/// The whole device at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The control node's generation, bumped on any change; `None` when
    /// the control node could not be opened (an unprivileged user who may
    /// only open the virtual devices).
    pub generation: Option<u64>,
    pub foreground: Option<u32>,
    pub reserved_size: u64,
    pub vdevs: Vec<VdevStatus>,
    /// Context management and its hold time; `None` with no node open.
    pub ctxmgt: Option<Ctxmgt>,
}

impl Snapshot {
    /// The first line of `status`.
    fn summary(&self) -> String {
        let mut s = format!(
            "{} virtual devices of {} bytes ({}), ",
            self.vdevs.len(),
            self.reserved_size,
            format_size(self.reserved_size)
        );
        match self.foreground {
            Some(f) => write!(s, "foreground {f}").unwrap(),
            None => s.push_str("no foreground"),
        }
        if let Some(g) = self.generation {
            write!(s, ", generation {g}").unwrap();
        }
        s
    }

    /// "on (hold N ms)" or "off (hold N ms)", for a change of the mode in
    /// `watch`: the hold may change while the mode is off.
    fn ctxmgt_change_text(ctx: &Ctxmgt) -> String {
        let mode = if ctx.enabled { "on" } else { "off" };
        format!("{mode} (hold {} ms)", ctx.timeout.as_millis())
    }

    /// "on, hold N ms" or "off".
    fn ctxmgt_text(ctx: &Ctxmgt) -> String {
        if ctx.enabled {
            format!("on, hold {} ms", ctx.timeout.as_millis())
        } else {
            "off".to_string()
        }
    }

    /// `status`: a summary line, then one line per virtual device with its
    /// index, state, whether it is the foreground, size and generation,
    /// then whether context management is on.
    pub fn to_text(&self) -> String {
        let mut s = self.summary();
        s.push('\n');
        writeln!(
            s,
            "{:<5} {:<11} {:<4} {:<11} GENERATION",
            "VDEV", "STATE", "FG", "SIZE"
        )
        .unwrap();
        for v in &self.vdevs {
            let fg = if self.foreground == Some(v.index) {
                "yes"
            } else {
                "no"
            };
            let state = v.state.to_string();
            writeln!(
                s,
                "{:<5} {state:<11} {fg:<4} {:<11} {}",
                v.index, v.size, v.generation
            )
            .unwrap();
        }
        if let Some(ctx) = &self.ctxmgt {
            writeln!(s, "context management: {}", Self::ctxmgt_text(ctx)).unwrap();
        }
        s
    }

    /// `status --json`: one JSON object on one line.
    pub fn to_json(&self) -> String {
        let vdevs = self.vdevs.iter().map(|v| JsonVdev {
            index: v.index,
            state: v.state.to_string(),
            foreground: self.foreground == Some(v.index),
            size: v.size,
            generation: v.generation,
        });
        serde_json::to_string(&JsonStatus {
            nr_vdevs: self.vdevs.len(),
            reserved_size: self.reserved_size,
            foreground: self.foreground,
            generation: self.generation,
            vdevs: vdevs.collect(),
            ctxmgt: self.ctxmgt.map(|c| JsonCtxmgt {
                enabled: c.enabled,
                timeout_ms: c.timeout.as_millis() as u64,
            }),
        })
        .expect("plain numbers and strings serialize")
    }

    /// The first line of `watch`, printed once the first snapshot is
    /// taken: anything changed after it will be reported. Context
    /// management is named when it is on.
    pub fn watch_header(&self) -> String {
        match &self.ctxmgt {
            Some(ctx) if ctx.enabled => format!(
                "watching vdmux: {}; context management {}",
                self.summary(),
                Self::ctxmgt_text(ctx)
            ),
            _ => format!("watching vdmux: {}", self.summary()),
        }
    }

    /// One line saying what changed from `self` to `next`, or `None` when
    /// nothing did. Several changes between two polls come as one line.
    pub fn describe_change(&self, next: &Snapshot) -> Option<String> {
        self.describe(next, None)
    }

    /// How many changes the control node's generation counts from `self`
    /// to `next`; `None` without the control node.
    pub fn changes_to(&self, next: &Snapshot) -> Option<u64> {
        Some(next.generation?.wrapping_sub(self.generation?))
    }

    /// The line `watch` prints for the changes from `self` to `next`, and
    /// how many changes it counts for `--count`: the control node's
    /// generation says how many there were, and the line says so when
    /// there were several ("generation 9 (3 changes): ..."). Without the
    /// control node a line counts as one change: the virtual devices'
    /// generations cannot tell one switch, which changes two of them, from
    /// two ejects. A change of context management moves no generation: it
    /// counts one more.
    pub fn report(&self, next: &Snapshot) -> Option<Report> {
        let changes = self.changes_to(next);
        let line = self.describe(next, changes.filter(|&k| k > 1))?;
        let ctx = u64::from(self.ctxmgt != next.ctxmgt);
        Some(Report {
            line,
            changes: changes.map_or(1, |k| k + ctx).max(1),
        })
    }

    /// [`Self::describe_change`], saying `total` changes after the
    /// generation when given.
    fn describe(&self, next: &Snapshot, total: Option<u64>) -> Option<String> {
        let mut parts = Vec::new();
        for (old, new) in self.vdevs.iter().zip(&next.vdevs) {
            let changes = new.generation.wrapping_sub(old.generation);
            if old.state != new.state {
                let mut part = format!("vdev {} {} -> {}", new.index, old.state, new.state);
                if changes > 1 {
                    write!(part, " ({changes} changes)").unwrap();
                }
                parts.push(part);
            } else if changes > 0 {
                // Ejected and inserted again between two polls, say.
                parts.push(format!(
                    "vdev {} {} again ({changes} changes)",
                    new.index, new.state
                ));
            }
        }
        if self.reserved_size != next.reserved_size {
            parts.push(format!(
                "reserved size {} -> {}",
                self.reserved_size, next.reserved_size
            ));
        }
        if let (Some(old), Some(new)) = (&self.ctxmgt, &next.ctxmgt) {
            if old != new {
                parts.push(format!(
                    "context management {} -> {}",
                    Self::ctxmgt_change_text(old),
                    Self::ctxmgt_change_text(new)
                ));
            }
        }
        if parts.is_empty() {
            if self.generation == next.generation {
                return None;
            }
            parts.push("no visible change".to_string());
        }
        let mut prefix = match next.generation {
            Some(g) => format!("generation {g}"),
            None => "change".to_string(),
        };
        if let Some(total) = total {
            write!(prefix, " ({total} changes)").unwrap();
        }
        Some(format!("{prefix}: {}", parts.join(", ")))
    }
}

/// One line of `watch`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub line: String,
    /// How many changes it reports, at least 1.
    pub changes: u64,
}

/// `status --json`, field by field in this order.
#[derive(Serialize)]
struct JsonStatus {
    nr_vdevs: usize,
    reserved_size: u64,
    foreground: Option<u32>,
    generation: Option<u64>,
    vdevs: Vec<JsonVdev>,
    /// Absent when no node said.
    #[serde(skip_serializing_if = "Option::is_none")]
    ctxmgt: Option<JsonCtxmgt>,
}

#[derive(Serialize)]
struct JsonCtxmgt {
    enabled: bool,
    timeout_ms: u64,
}

#[derive(Serialize)]
struct JsonVdev {
    index: u32,
    state: String,
    foreground: bool,
    size: u64,
    generation: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vdev(index: u32, state: State, generation: u64) -> VdevStatus {
        VdevStatus {
            index,
            state,
            size: 32768,
            generation,
        }
    }

    fn sample() -> Snapshot {
        Snapshot {
            generation: Some(5),
            foreground: Some(1),
            reserved_size: 32768,
            vdevs: vec![
                vdev(0, State::Background, 2),
                vdev(1, State::Foreground, 2),
                vdev(2, State::Removed, 1),
            ],
            ctxmgt: Some(Ctxmgt::default()),
        }
    }

    #[test]
    fn text() {
        assert_eq!(
            sample().to_text(),
            "\
3 virtual devices of 32768 bytes (32K), foreground 1, generation 5
VDEV  STATE       FG   SIZE        GENERATION
0     background  no   32768       2
1     foreground  yes  32768       2
2     removed     no   32768       1
context management: off
"
        );
    }

    #[test]
    fn ctxmgt_on() {
        let mut s = sample();
        s.ctxmgt = Some(Ctxmgt {
            enabled: true,
            timeout: std::time::Duration::from_millis(10),
        });
        assert!(
            s.to_text()
                .ends_with("\ncontext management: on, hold 10 ms\n")
        );
        assert!(
            s.to_json()
                .ends_with(",\"ctxmgt\":{\"enabled\":true,\"timeout_ms\":10}}")
        );
        assert_eq!(
            s.watch_header(),
            "watching vdmux: 3 virtual devices of 32768 bytes (32K), foreground 1, \
             generation 5; context management on, hold 10 ms"
        );
        s.ctxmgt = None;
        assert!(
            s.to_text()
                .ends_with("\n2     removed     no   32768       1\n")
        );
        assert!(s.to_json().ends_with("\"generation\":1}]}"));
    }

    #[test]
    fn text_without_foreground_or_control() {
        let mut s = sample();
        s.foreground = None;
        s.generation = None;
        assert!(
            s.to_text()
                .starts_with("3 virtual devices of 32768 bytes (32K), no foreground\n")
        );
    }

    #[test]
    fn json() {
        assert_eq!(
            sample().to_json(),
            "{\"nr_vdevs\":3,\"reserved_size\":32768,\"foreground\":1,\"generation\":5,\"vdevs\":[\
             {\"index\":0,\"state\":\"background\",\"foreground\":false,\"size\":32768,\"generation\":2},\
             {\"index\":1,\"state\":\"foreground\",\"foreground\":true,\"size\":32768,\"generation\":2},\
             {\"index\":2,\"state\":\"removed\",\"foreground\":false,\"size\":32768,\"generation\":1}],\
             \"ctxmgt\":{\"enabled\":false,\"timeout_ms\":0}}"
        );
    }

    #[test]
    fn json_nulls() {
        let mut s = sample();
        s.foreground = None;
        s.generation = None;
        assert!(s.to_json().starts_with(
            "{\"nr_vdevs\":3,\"reserved_size\":32768,\"foreground\":null,\"generation\":null,"
        ));
    }

    #[test]
    fn no_change() {
        assert_eq!(sample().describe_change(&sample()), None);
    }

    #[test]
    fn a_switch() {
        let old = sample();
        let mut new = sample();
        new.generation = Some(6);
        new.foreground = Some(0);
        new.vdevs[0] = vdev(0, State::Foreground, 3);
        new.vdevs[1] = vdev(1, State::Background, 3);
        assert_eq!(
            old.describe_change(&new).unwrap(),
            "generation 6: vdev 0 background -> foreground, vdev 1 foreground -> background"
        );
    }

    #[test]
    fn changes_between_polls() {
        let old = sample();
        let mut new = sample();
        new.generation = Some(9);
        new.vdevs[0] = vdev(0, State::Background, 4);
        new.vdevs[2] = vdev(2, State::Background, 4);
        assert_eq!(
            old.describe_change(&new).unwrap(),
            "generation 9: vdev 0 background again (2 changes), \
             vdev 2 removed -> background (3 changes)"
        );
    }

    #[test]
    fn a_resize() {
        let old = sample();
        let mut new = sample();
        new.generation = Some(6);
        new.reserved_size = 65536;
        assert_eq!(
            old.describe_change(&new).unwrap(),
            "generation 6: reserved size 32768 -> 65536"
        );
    }

    #[test]
    fn a_change_of_context_management() {
        let old = sample();
        let mut new = sample();
        new.ctxmgt = Some(Ctxmgt {
            enabled: true,
            timeout: std::time::Duration::from_millis(10),
        });
        let report = old.report(&new).unwrap();
        assert_eq!(
            report.line,
            "generation 5: context management off (hold 0 ms) -> on (hold 10 ms)"
        );
        assert_eq!(report.changes, 1);
        let mut later = new.clone();
        later.ctxmgt = Some(Ctxmgt {
            enabled: true,
            timeout: std::time::Duration::from_millis(250),
        });
        later.generation = Some(6);
        later.vdevs[0] = vdev(0, State::Foreground, 3);
        later.vdevs[1] = vdev(1, State::Background, 3);
        let report = new.report(&later).unwrap();
        assert_eq!(
            report.line,
            "generation 6: vdev 0 background -> foreground, vdev 1 foreground -> background, \
             context management on (hold 10 ms) -> on (hold 250 ms)"
        );
        assert_eq!(report.changes, 2);
        assert!(later.report(&later.clone()).is_none());
    }

    #[test]
    fn without_the_control_node() {
        let mut old = sample();
        old.generation = None;
        let mut new = old.clone();
        new.vdevs[2] = vdev(2, State::Background, 2);
        assert_eq!(
            old.describe_change(&new).unwrap(),
            "change: vdev 2 removed -> background"
        );
    }

    #[test]
    fn header() {
        assert_eq!(
            sample().watch_header(),
            "watching vdmux: 3 virtual devices of 32768 bytes (32K), foreground 1, generation 5"
        );
    }

    #[test]
    fn one_change_one_report() {
        let old = sample();
        let mut new = sample();
        new.generation = Some(6);
        new.foreground = Some(0);
        new.vdevs[0] = vdev(0, State::Foreground, 3);
        new.vdevs[1] = vdev(1, State::Background, 3);
        assert_eq!(old.changes_to(&new), Some(1));
        assert_eq!(
            old.report(&new),
            Some(Report {
                line: "generation 6: vdev 0 background -> foreground, \
                       vdev 1 foreground -> background"
                    .into(),
                changes: 1
            })
        );
        assert_eq!(old.report(&old), None);
    }

    #[test]
    fn several_changes_in_one_report() {
        // switch 0, switch 1, switch 0 between two reads.
        let old = sample();
        let mut new = sample();
        new.generation = Some(8);
        new.foreground = Some(0);
        new.vdevs[0] = vdev(0, State::Foreground, 5);
        new.vdevs[1] = vdev(1, State::Background, 5);
        assert_eq!(
            old.report(&new),
            Some(Report {
                line: "generation 8 (3 changes): vdev 0 background -> foreground (3 changes), \
                       vdev 1 foreground -> background (3 changes)"
                    .into(),
                changes: 3
            })
        );
        // Two switches that end where they started.
        new.generation = Some(7);
        new.foreground = Some(1);
        new.vdevs[0] = vdev(0, State::Background, 4);
        new.vdevs[1] = vdev(1, State::Foreground, 4);
        assert_eq!(
            old.report(&new).unwrap().line,
            "generation 7 (2 changes): vdev 0 background again (2 changes), \
             vdev 1 foreground again (2 changes)"
        );
        // The existing description does not count them.
        assert_eq!(
            old.describe_change(&new).unwrap(),
            "generation 7: vdev 0 background again (2 changes), \
             vdev 1 foreground again (2 changes)"
        );
    }

    #[test]
    fn resizes_in_reports() {
        let old = sample();
        let mut new = sample();
        new.generation = Some(7);
        new.reserved_size = 65536;
        assert_eq!(
            old.report(&new),
            Some(Report {
                line: "generation 7 (2 changes): reserved size 32768 -> 65536".into(),
                changes: 2
            })
        );
        // Resized there and back.
        new.reserved_size = 32768;
        assert_eq!(
            old.report(&new).unwrap().line,
            "generation 7 (2 changes): no visible change"
        );
    }

    #[test]
    fn reports_without_the_control_node() {
        let mut old = sample();
        old.generation = None;
        let mut new = old.clone();
        new.foreground = Some(0);
        new.vdevs[0] = vdev(0, State::Foreground, 5);
        new.vdevs[1] = vdev(1, State::Background, 5);
        assert_eq!(old.changes_to(&new), None);
        assert_eq!(
            old.report(&new),
            Some(Report {
                line: "change: vdev 0 background -> foreground (3 changes), \
                       vdev 1 foreground -> background (3 changes)"
                    .into(),
                changes: 1
            })
        );
        assert_eq!(old.report(&old), None);
    }

    #[test]
    fn generations_that_wrap() {
        let mut old = sample();
        old.generation = Some(u64::MAX);
        let mut new = sample();
        new.generation = Some(1);
        new.reserved_size = 4096;
        assert_eq!(old.changes_to(&new), Some(2));
    }
}
