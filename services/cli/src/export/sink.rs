//! Where export rows go: a CSV or Parquet file with a fixed schema, written
//! row by row (Parquet buffers one row group) to `FILE.partial` and renamed
//! to FILE only when every row is in, so a failed export leaves no file that
//! looks complete.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use parquet::basic::{LogicalType, Repetition, Type as PhysicalType};
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;

use crate::output::Cell;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FileFormat {
    Csv,
    Parquet,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    Text,
    Integer,
    Number,
}

#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub kind: ColumnKind,
}

impl Column {
    pub fn new(name: impl Into<String>, kind: ColumnKind) -> Self {
        Self { name: name.into(), kind }
    }
}

/// Rows per Parquet row group: bounded memory, and groups large enough for
/// readers to scan quickly.
const ROW_GROUP_ROWS: usize = 16_384;

pub struct Sink {
    columns: Vec<Column>,
    writer: Writer,
    rows: u64,
    partial: PathBuf,
    out: PathBuf,
}

enum Writer {
    Csv(csv::Writer<BufWriter<File>>),
    Parquet { writer: SerializedFileWriter<BufWriter<File>>, buffered: Vec<Vec<Cell>> },
}

impl Sink {
    pub fn create(out: &Path, format: FileFormat, columns: Vec<Column>) -> anyhow::Result<Self> {
        let mut partial = out.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let file = BufWriter::new(File::create(&partial).with_context(|| format!("creating {}", partial.display()))?);
        let writer = match format {
            FileFormat::Csv => {
                let mut writer = csv::Writer::from_writer(file);
                writer.write_record(columns.iter().map(|column| column.name.as_str()))?;
                Writer::Csv(writer)
            }
            FileFormat::Parquet => {
                let writer = SerializedFileWriter::new(
                    file,
                    parquet_schema(&columns)?,
                    Arc::new(WriterProperties::builder().set_created_by("patron".into()).build()),
                )?;
                Writer::Parquet { writer, buffered: Vec::with_capacity(ROW_GROUP_ROWS) }
            }
        };
        Ok(Self { columns, writer, rows: 0, partial, out: out.to_path_buf() })
    }

    pub fn write(&mut self, row: Vec<Cell>) -> anyhow::Result<()> {
        if row.len() != self.columns.len() {
            bail!("an export row has {} values for {} columns", row.len(), self.columns.len());
        }
        match &mut self.writer {
            Writer::Csv(writer) => writer.write_record(row.iter().map(csv_text))?,
            Writer::Parquet { writer, buffered } => {
                buffered.push(row);
                if buffered.len() >= ROW_GROUP_ROWS {
                    write_row_group(writer, &self.columns, buffered)?;
                }
            }
        }
        self.rows += 1;
        Ok(())
    }

    /// Completes the file and moves it into place; returns the rows written.
    pub fn finish(self) -> anyhow::Result<u64> {
        match self.writer {
            Writer::Csv(mut writer) => writer.flush()?,
            Writer::Parquet { mut writer, mut buffered } => {
                if !buffered.is_empty() {
                    write_row_group(&mut writer, &self.columns, &mut buffered)?;
                }
                writer.close()?;
            }
        }
        std::fs::rename(&self.partial, &self.out)
            .with_context(|| format!("moving {} to {}", self.partial.display(), self.out.display()))?;
        Ok(self.rows)
    }

    /// Removes the partial file after a failure.
    pub fn abandon(self) {
        let partial = self.partial.clone();
        drop(self);
        let _ = std::fs::remove_file(partial);
    }
}

fn csv_text(cell: &Cell) -> String {
    match cell {
        Cell::Text(text) => text.clone(),
        Cell::Integer(value) => value.to_string(),
        Cell::Number(value) => value.to_string(),
        Cell::Empty => String::new(),
    }
}

/// Every column is OPTIONAL: an unset value (no NPS answer yet) is null.
fn parquet_schema(columns: &[Column]) -> anyhow::Result<Arc<Type>> {
    let fields = columns
        .iter()
        .map(|column| {
            let builder = match column.kind {
                ColumnKind::Text => Type::primitive_type_builder(&column.name, PhysicalType::BYTE_ARRAY)
                    .with_logical_type(Some(LogicalType::String)),
                ColumnKind::Integer => Type::primitive_type_builder(&column.name, PhysicalType::INT64),
                ColumnKind::Number => Type::primitive_type_builder(&column.name, PhysicalType::DOUBLE),
            };
            Ok(Arc::new(builder.with_repetition(Repetition::OPTIONAL).build()?))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Arc::new(Type::group_type_builder("patron_export").with_fields(fields).build()?))
}

fn write_row_group(
    writer: &mut SerializedFileWriter<BufWriter<File>>,
    columns: &[Column],
    rows: &mut Vec<Vec<Cell>>,
) -> anyhow::Result<()> {
    let mut group = writer.next_row_group()?;
    for (index, column) in columns.iter().enumerate() {
        let Some(mut column_writer) = group.next_column()? else {
            bail!("the parquet schema has fewer columns than the export");
        };
        let cells = rows.iter().map(|row| &row[index]);
        // Definition level 1 = present, 0 = null; values hold only the present ones.
        let definition_levels: Vec<i16> = cells.clone().map(|cell| i16::from(*cell != Cell::Empty)).collect();
        match column.kind {
            ColumnKind::Text => {
                let values: Vec<ByteArray> = cells
                    .filter(|cell| **cell != Cell::Empty)
                    .map(|cell| ByteArray::from(csv_text(cell).into_bytes()))
                    .collect();
                column_writer.typed::<ByteArrayType>().write_batch(&values, Some(&definition_levels), None)?;
            }
            ColumnKind::Integer => {
                let values = cells
                    .filter_map(|cell| match cell {
                        Cell::Integer(value) => Some(Ok(*value)),
                        Cell::Empty => None,
                        other => Some(Err(anyhow::anyhow!("column {} holds integers, not {other:?}", column.name))),
                    })
                    .collect::<anyhow::Result<Vec<i64>>>()?;
                column_writer.typed::<Int64Type>().write_batch(&values, Some(&definition_levels), None)?;
            }
            ColumnKind::Number => {
                let values = cells
                    .filter_map(|cell| match cell {
                        Cell::Number(value) => Some(Ok(*value)),
                        #[allow(clippy::cast_precision_loss)]
                        Cell::Integer(value) => Some(Ok(*value as f64)),
                        Cell::Empty => None,
                        other => Some(Err(anyhow::anyhow!("column {} holds numbers, not {other:?}", column.name))),
                    })
                    .collect::<anyhow::Result<Vec<f64>>>()?;
                column_writer.typed::<DoubleType>().write_batch(&values, Some(&definition_levels), None)?;
            }
        }
        column_writer.close()?;
    }
    group.close()?;
    rows.clear();
    Ok(())
}

#[cfg(test)]
mod tests {
    use parquet::file::reader::{FileReader, SerializedFileReader};

    use super::*;

    #[test]
    fn parquet_and_csv_hold_the_same_rows_and_nulls() {
        let dir = std::env::temp_dir().join(format!("patron-sink-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let columns = || {
            vec![
                Column::new("customer_id", ColumnKind::Text),
                Column::new("orders", ColumnKind::Integer),
                Column::new("nps", ColumnKind::Number),
            ]
        };
        let rows = || {
            (0..40_000_i64).map(|index| {
                let nps = if index % 3 == 0 { Cell::Empty } else { Cell::Number(index as f64 / 2.0) };
                vec![Cell::Text(format!("c-{index}")), Cell::Integer(index), nps]
            })
        };
        for format in [FileFormat::Csv, FileFormat::Parquet] {
            let out = dir.join(format!("{format:?}"));
            let mut sink = Sink::create(&out, format, columns()).expect("created");
            for row in rows() {
                sink.write(row).expect("written");
            }
            assert_eq!(sink.finish().expect("finished"), 40_000);
            assert!(!dir.join(format!("{format:?}.partial")).exists());
        }
        let csv_rows: Vec<csv::StringRecord> =
            csv::Reader::from_path(dir.join("Csv")).expect("csv").records().map(|row| row.expect("row")).collect();
        let reader = SerializedFileReader::new(File::open(dir.join("Parquet")).expect("file")).expect("parquet");
        assert_eq!(reader.metadata().file_metadata().num_rows(), 40_000);
        assert!(reader.metadata().num_row_groups() >= 3);
        let parquet_rows: Vec<_> = reader.get_row_iter(None).expect("rows").map(|row| row.expect("row")).collect();
        assert_eq!(parquet_rows.len(), csv_rows.len());
        for (parquet_row, csv_row) in parquet_rows.iter().zip(&csv_rows).step_by(997) {
            let texts: Vec<String> = parquet_row
                .get_column_iter()
                .map(|(_, field)| match field {
                    parquet::record::Field::Null => String::new(),
                    parquet::record::Field::Str(text) => text.clone(),
                    parquet::record::Field::Long(value) => value.to_string(),
                    parquet::record::Field::Double(value) => value.to_string(),
                    other => panic!("unexpected parquet value {other:?}"),
                })
                .collect();
            assert_eq!(texts, csv_row.iter().collect::<Vec<_>>());
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
