//! The tables reporting commands print, in the form `--output` asks for:
//! aligned text for people, JSON or CSV for scripts and notebooks.
//!
//! A report is one or more named tables. JSON is always an object keyed by
//! table name, each an array of row objects; CSV prints each table with its
//! header row, tables separated by one empty line.

use std::io::Write;

use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OutputFormat {
    #[default]
    Table,
    Json,
    Csv,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Integer(i64),
    Number(f64),
    Empty,
}

impl From<&str> for Cell {
    fn from(text: &str) -> Self {
        Self::Text(text.to_owned())
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Self {
        Self::Text(text)
    }
}

impl From<i64> for Cell {
    fn from(value: i64) -> Self {
        Self::Integer(value)
    }
}

impl From<i32> for Cell {
    fn from(value: i32) -> Self {
        Self::Integer(i64::from(value))
    }
}

impl From<f64> for Cell {
    fn from(value: f64) -> Self {
        if value.is_finite() { Self::Number(value) } else { Self::Empty }
    }
}

impl From<bool> for Cell {
    fn from(value: bool) -> Self {
        Self::Text(value.to_string())
    }
}

impl<T: Into<Cell>> From<Option<T>> for Cell {
    fn from(value: Option<T>) -> Self {
        value.map_or(Self::Empty, Into::into)
    }
}

impl Cell {
    fn text(&self) -> String {
        match self {
            Self::Text(text) => text.clone(),
            Self::Integer(value) => value.to_string(),
            // Enough digits for metrics; JSON and CSV keep full precision.
            Self::Number(value) => format!("{value:.4}"),
            Self::Empty => String::new(),
        }
    }

    fn exact_text(&self) -> String {
        match self {
            Self::Number(value) => value.to_string(),
            other => other.text(),
        }
    }

    fn json(&self) -> Value {
        match self {
            Self::Text(text) => Value::String(text.clone()),
            Self::Integer(value) => Value::from(*value),
            Self::Number(value) => Value::from(*value),
            Self::Empty => Value::Null,
        }
    }

    fn is_numeric(&self) -> bool {
        matches!(self, Self::Integer(_) | Self::Number(_))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub name: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    pub fn new(name: &str, columns: &[&str]) -> Self {
        Self {
            name: name.to_owned(),
            columns: columns.iter().map(|&column| column.to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn push(&mut self, row: Vec<Cell>) {
        debug_assert_eq!(row.len(), self.columns.len(), "a row of table {} has the wrong width", self.name);
        self.rows.push(row);
    }

    /// A two-column table of named values (`metric`, `value`).
    pub fn fields(name: &str, fields: Vec<(&str, Cell)>) -> Self {
        let mut table = Self::new(name, &["field", "value"]);
        for (field, value) in fields {
            table.push(vec![field.into(), value]);
        }
        table
    }
}

/// Writes `tables` to `out` in `format`.
pub fn write(out: &mut impl Write, format: OutputFormat, tables: &[Table]) -> anyhow::Result<()> {
    match format {
        OutputFormat::Table => write_text(out, tables)?,
        OutputFormat::Json => {
            let mut object = Map::new();
            for table in tables {
                let rows = table
                    .rows
                    .iter()
                    .map(|row| Value::Object(table.columns.iter().cloned().zip(row.iter().map(Cell::json)).collect()))
                    .collect();
                object.insert(table.name.clone(), Value::Array(rows));
            }
            serde_json::to_writer_pretty(&mut *out, &Value::Object(object))?;
            writeln!(out)?;
        }
        OutputFormat::Csv => {
            for (index, table) in tables.iter().enumerate() {
                if index > 0 {
                    writeln!(out)?;
                }
                let mut writer = csv::Writer::from_writer(&mut *out);
                writer.write_record(&table.columns)?;
                for row in &table.rows {
                    writer.write_record(row.iter().map(Cell::exact_text))?;
                }
                writer.flush()?;
            }
        }
    }
    Ok(())
}

/// Prints to stdout.
pub fn print(format: OutputFormat, tables: &[Table]) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    write(&mut out, format, tables)
}

fn write_text(out: &mut impl Write, tables: &[Table]) -> std::io::Result<()> {
    for (index, table) in tables.iter().enumerate() {
        if index > 0 {
            writeln!(out)?;
        }
        if tables.len() > 1 {
            writeln!(out, "{}", table.name.replace('_', " "))?;
        }
        let texts: Vec<Vec<String>> = table.rows.iter().map(|row| row.iter().map(Cell::text).collect()).collect();
        let widths: Vec<usize> = (0..table.columns.len())
            .map(|column| {
                texts
                    .iter()
                    .map(|row| row.get(column).map_or(0, |text| text.chars().count()))
                    .chain([table.columns[column].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let header: Vec<String> =
            table.columns.iter().zip(&widths).map(|(column, &width)| format!("{column:<width$}")).collect();
        writeln!(out, "{}", header.join("  ").trim_end())?;
        for (row, cells) in texts.iter().zip(&table.rows) {
            let line: Vec<String> = row
                .iter()
                .zip(cells)
                .zip(&widths)
                .map(
                    |((text, cell), &width)| {
                        if cell.is_numeric() { format!("{text:>width$}") } else { format!("{text:<width$}") }
                    },
                )
                .collect();
            writeln!(out, "{}", line.join("  ").trim_end())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Table> {
        let mut table = Table::new("metrics", &["metric", "value"]);
        table.push(vec!["roc_auc".into(), 0.8125.into()]);
        table.push(vec!["customers".into(), 12_i64.into()]);
        table.push(vec!["nps".into(), Cell::Empty]);
        vec![table]
    }

    fn render(format: OutputFormat, tables: &[Table]) -> String {
        let mut out = Vec::new();
        write(&mut out, format, tables).expect("written");
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn text_aligns_numbers_right() {
        let text = render(OutputFormat::Table, &sample());
        assert_eq!(text, "metric     value\nroc_auc    0.8125\ncustomers      12\nnps\n");
    }

    #[test]
    fn json_is_keyed_by_table_and_csv_keeps_full_precision() {
        let json: Value = serde_json::from_str(&render(OutputFormat::Json, &sample())).expect("json");
        assert_eq!(json["metrics"][0]["value"], 0.8125);
        assert_eq!(json["metrics"][1]["value"], 12);
        assert_eq!(json["metrics"][2]["value"], Value::Null);
        let csv = render(OutputFormat::Csv, &sample());
        assert_eq!(csv, "metric,value\nroc_auc,0.8125\ncustomers,12\nnps,\n");
    }
}
