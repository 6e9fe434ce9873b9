//! `uname(2)`: node_exporter's `uname` collector, `node_uname_info`.

use crate::exposition::{MetricKind, TextWriter};

/// Writes `node_uname_info{sysname,release,version,machine,nodename,domainname} 1`.
pub fn write_uname(writer: &mut TextWriter<'_>) {
    let uname = rustix::system::uname();
    let sysname = uname.sysname().to_string_lossy();
    let release = uname.release().to_string_lossy();
    let version = uname.version().to_string_lossy();
    let machine = uname.machine().to_string_lossy();
    let nodename = uname.nodename().to_string_lossy();
    let domainname = uname.domainname().to_string_lossy();
    writer.family(
        "node_uname_info",
        "Labeled system information as provided by the uname system call.",
        MetricKind::Gauge,
    );
    // Labels in sorted order, as node_exporter's client library writes them.
    writer.sample(
        "node_uname_info",
        &[
            ("domainname", &domainname),
            ("machine", &machine),
            ("nodename", &nodename),
            ("release", &release),
            ("sysname", &sysname),
            ("version", &version),
        ],
        1.0,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uname_info_carries_the_kernel_identity() {
        let mut output = String::new();
        write_uname(&mut TextWriter::new(&mut output));
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
        assert!(
            output.contains(&format!("release=\"{}\"", release.trim())),
            "{output}"
        );
        assert!(output.contains("sysname=\"Linux\""), "{output}");
        assert!(output.trim_end().ends_with("} 1"), "{output}");
    }
}
