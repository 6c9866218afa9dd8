//! `seecret share --batch`: one secret per CSV row, for provisioning and onboarding scripts.
//!
//! All or nothing: the whole CSV is read and checked before anything is shared, and if a share
//! fails part-way the links already made are burnt, so a re-run never leaves live duplicates and
//! no link is printed that the caller would not get all of.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, bail};
use seecret_core::client::{Client, ShareOptions};
use seecret_core::model::SecretId;
use zeroize::Zeroizing;

use super::explained;

/// Which columns hold what.
#[derive(Debug)]
pub(super) struct Columns {
    /// The secret's column; replaced by `url` in the output.
    pub secret: String,
    /// A column whose value becomes each secret's label.
    pub label: Option<String>,
}

/// A row ready to share: its fields (the secret's emptied) and its place in the file.
struct Row {
    fields: Vec<Vec<u8>>,
    secret: Zeroizing<Vec<u8>>,
    label: Option<String>,
    line: u64,
}

/// Shares every row of `csv` (a path, or `-` for standard input) and prints the CSV with the
/// secret column replaced by the links.
pub(super) async fn share_rows(
    client: &Client,
    csv: &Path,
    columns: &Columns,
    opts: ShareOptions,
) -> anyhow::Result<()> {
    let input = read_all(csv)?;
    let (header, rows) = parse(&input, columns)?;
    drop(input);

    let mut made: Vec<SecretId> = Vec::with_capacity(rows.len());
    let mut out_rows = Vec::with_capacity(rows.len());
    for (n, row) in rows.into_iter().enumerate() {
        let mut row_opts = opts.clone();
        if row.label.is_some() {
            row_opts.label = row.label;
        }
        match client.share(&row.secret, row_opts).await {
            Ok(shared) => {
                made.push(shared.info.id);
                let mut fields = row.fields;
                fields[header.secret_at] = shared.link.as_str().as_bytes().to_vec();
                out_rows.push(fields);
            }
            Err(e) => {
                let burnt = burn_all(client, &made).await;
                return Err(explained(e).context(format!(
                    "row {} (line {}) could not be shared; {burnt}",
                    n + 1,
                    row.line
                )));
            }
        }
    }

    let mut w = csv::Writer::from_writer(std::io::stdout().lock());
    w.write_record(&header.names)?;
    for fields in &out_rows {
        w.write_record(fields)?;
    }
    w.flush().context("writing the CSV to standard output")?;
    Ok(())
}

/// The header row, with the secret column renamed `url`.
struct Header {
    names: Vec<Vec<u8>>,
    secret_at: usize,
}

fn read_all(csv: &Path) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    let mut buf = Zeroizing::new(Vec::new());
    if csv.as_os_str() == "-" {
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("reading the CSV from standard input")?;
    } else {
        std::fs::File::open(csv)
            .and_then(|mut f| f.read_to_end(&mut buf))
            .with_context(|| format!("reading {}", csv.display()))?;
    }
    Ok(buf)
}

/// Reads and checks every row before anything is shared.
fn parse(input: &[u8], columns: &Columns) -> anyhow::Result<(Header, Vec<Row>)> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(input);
    let names: Vec<Vec<u8>> = reader
        .byte_headers()
        .context("reading the CSV's header row")?
        .iter()
        .map(<[u8]>::to_vec)
        .collect();
    let find = |name: &str| -> anyhow::Result<usize> {
        let at: Vec<usize> = names
            .iter()
            .enumerate()
            .filter(|(_, n)| n.as_slice() == name.as_bytes())
            .map(|(i, _)| i)
            .collect();
        match at.as_slice() {
            [i] => Ok(*i),
            [] => bail!(
                "the CSV has no column {name:?} (its header row: {})",
                String::from_utf8_lossy(&names.join(&b","[..]))
            ),
            _ => bail!("the CSV has {} columns named {name:?}", at.len()),
        }
    };
    let secret_at = find(&columns.secret)?;
    let label_at = columns.label.as_deref().map(find).transpose()?;

    let mut rows = Vec::new();
    for record in reader.byte_records() {
        // The csv crate's errors name the line and never quote the field.
        let record = record.context("reading the CSV")?;
        let line = record.position().map_or(0, csv::Position::line);
        let secret = Zeroizing::new(record.get(secret_at).unwrap_or_default().to_vec());
        if secret.is_empty() {
            bail!(
                "line {line}: the {:?} column is empty (nothing was shared)",
                columns.secret
            );
        }
        let label = match label_at {
            Some(i) => Some(
                String::from_utf8(record.get(i).unwrap_or_default().to_vec())
                    .with_context(|| format!("line {line}: the label column is not UTF-8"))?,
            ),
            None => None,
        };
        let fields = record
            .iter()
            .enumerate()
            .map(|(i, f)| {
                if i == secret_at {
                    Vec::new()
                } else {
                    f.to_vec()
                }
            })
            .collect();
        rows.push(Row {
            fields,
            secret,
            label,
            line,
        });
    }
    if rows.is_empty() {
        bail!("the CSV has a header row and no rows: nothing to share");
    }
    let mut names = names;
    names[secret_at] = b"url".to_vec();
    Ok((Header { names, secret_at }, rows))
}

/// Burns the secrets of a failed batch; says what became of them.
async fn burn_all(client: &Client, made: &[SecretId]) -> String {
    let mut left = Vec::new();
    for id in made {
        if client.delete(*id).await.is_err() {
            left.push(id.to_string());
        }
    }
    match (made.len(), left.len()) {
        (0, _) => "nothing had been shared".into(),
        (n, 0) => format!("the {n} links already made were burnt, nothing was printed"),
        (n, _) => format!(
            "{} of the {n} links already made could not be burnt (burn them with `seecret burn`): {}",
            left.len(),
            left.join(" ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(secret: &str, label: Option<&str>) -> Columns {
        Columns {
            secret: secret.into(),
            label: label.map(Into::into),
        }
    }

    #[test]
    fn rows_are_checked_before_anything_is_shared() {
        let csv = b"email,secret,team\nann@x.io,\"pa,ss\"\"1\",ops\nbob@x.io,pw2,dev\n";
        let (header, rows) = parse(csv, &cols("secret", Some("email"))).unwrap();
        assert_eq!(header.names, [&b"email"[..], b"url", b"team"]);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].secret.as_slice(), b"pa,ss\"1");
        assert_eq!(rows[0].label.as_deref(), Some("ann@x.io"));
        assert_eq!(rows[1].line, 3);

        let err = |csv: &[u8], c: Columns| format!("{:#}", parse(csv, &c).err().unwrap());
        let e = err(b"email,pw\nann,CANARY\n", cols("secret", None));
        assert!(
            e.contains("no column \"secret\"") && !e.contains("CANARY"),
            "{e}"
        );
        let e = err(b"email,secret\nann,CANARY\nbob,\n", cols("secret", None));
        assert!(e.contains("line 3") && !e.contains("CANARY"), "{e}");
        let e = err(b"email,secret\nann,CANARY,extra\n", cols("secret", None));
        assert!(!e.contains("CANARY"), "{e}");
        let e = err(b"secret,secret\na,b\n", cols("secret", None));
        assert!(e.contains("2 columns"), "{e}");
        let e = err(b"email,secret\n", cols("secret", None));
        assert!(e.contains("no rows"), "{e}");
    }
}
