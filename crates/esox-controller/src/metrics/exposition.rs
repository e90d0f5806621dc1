//! The Prometheus text exposition format (0.0.4), apart from what esox measures: a family's
//! `# HELP`/`# TYPE` header, then one line per series with its escaped labels.

use std::fmt::Write as _;

/// Labels of one series, in output order.
pub type Labels = Vec<(&'static str, String)>;

/// A page of `/metrics` being written.
#[derive(Default)]
pub struct Exposition {
    text: String,
}

impl Exposition {
    pub fn header(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
    }

    pub fn sample(&mut self, name: &str, labels: &Labels, value: f64) {
        let _ = writeln!(self.text, "{name}{} {value}", format_labels(labels));
    }

    pub fn into_text(self) -> String {
        self.text
    }
}

/// `{k="v",...}` with the format's escapes (backslash, quote, newline), or nothing.
fn format_labels(labels: &Labels) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = labels
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}=\"{}\"",
                v.replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n")
            )
        })
        .collect();
    format!("{{{}}}", inner.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped_and_empty_label_sets_print_nothing() {
        let mut out = Exposition::default();
        out.header("m", "gauge", "A help text");
        out.sample("m", &vec![("name", "a\\b\"c\nd".to_owned())], 1.5);
        out.sample("m", &Vec::new(), 2.0);
        assert_eq!(
            out.into_text(),
            "# HELP m A help text\n# TYPE m gauge\nm{name=\"a\\\\b\\\"c\\nd\"} 1.5\nm 2\n"
        );
    }
}
