//! Turns what the user dropped into one upload: a single file is streamed from disk; several files
//! or a folder are zipped on the fly in memory (never in a temporary file, so no plaintext copy is
//! left on disk), and the server's size limit is checked before anything is sent.

use std::io::{Cursor, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use seecret_core::filestream::FileMeta;
use serde::Serialize;

use crate::error::{DesktopError, human_size};

/// A dropped or picked item, as the window lists it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct StagedFile {
    /// The file or folder name.
    pub name: String,
    /// Its full path.
    pub path: String,
    /// A folder (zipped when shared).
    pub is_dir: bool,
    /// Size in bytes (a folder: the sum of its files).
    pub size: u64,
}

/// Describes a path for the window.
pub fn describe(path: &Path) -> Result<StagedFile, DesktopError> {
    let md = std::fs::metadata(path).map_err(|e| file_err(path, &e))?;
    let size = if md.is_dir() {
        let mut total = 0;
        walk(path, &mut |p| {
            total += std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
            Ok(())
        })?;
        total
    } else {
        md.len()
    };
    Ok(StagedFile {
        name: file_name(path),
        path: path.display().to_string(),
        is_dir: md.is_dir(),
        size,
    })
}

/// What gets uploaded.
#[derive(Debug)]
pub enum Source {
    /// One file, streamed from disk.
    Path(PathBuf),
    /// A zip built in memory.
    Memory(Vec<u8>),
}

/// One upload: its metadata (sealed with it) and where its bytes come from.
#[derive(Debug)]
pub struct Upload {
    /// Name, media type and size.
    pub meta: FileMeta,
    /// The bytes.
    pub source: Source,
}

/// Prepares `paths` for upload, refusing anything over `limit` bytes before it is sent.
pub fn prepare(paths: &[PathBuf], limit: Option<u64>) -> Result<Upload, DesktopError> {
    let limit = limit.unwrap_or(u64::MAX);
    let too_large = |name: &str, size: String| DesktopError::TooLarge {
        name: name.to_string(),
        size,
        limit: human_size(limit),
    };
    match paths {
        [] => Err(DesktopError::Empty),
        [one] if !one.is_dir() => {
            let md = std::fs::metadata(one).map_err(|e| file_err(one, &e))?;
            let name = file_name(one);
            if md.len() > limit {
                return Err(too_large(&name, human_size(md.len())));
            }
            Ok(Upload {
                meta: FileMeta {
                    media_type: media_type(&name).to_string(),
                    name,
                    size: Some(md.len()),
                },
                source: Source::Path(one.clone()),
            })
        }
        _ => {
            let name = match paths {
                [dir] => format!("{}.zip", file_name(dir)),
                _ => format!("seecret-{}-items.zip", paths.len()),
            };
            let bytes = zip_paths(paths, limit).map_err(|e| match e {
                ZipError::TooLarge => too_large(&name, format!("over {}", human_size(limit))),
                ZipError::Desktop(e) => e,
            })?;
            Ok(Upload {
                meta: FileMeta {
                    name,
                    media_type: "application/zip".into(),
                    size: Some(bytes.len() as u64),
                },
                source: Source::Memory(bytes),
            })
        }
    }
}

enum ZipError {
    TooLarge,
    Desktop(DesktopError),
}

/// A cursor that refuses to grow past a limit, so a huge folder fails fast.
struct Capped {
    inner: Cursor<Vec<u8>>,
    limit: u64,
    /// Set when a write went past the limit (the zip writer may drop its sink after an error).
    over: std::rc::Rc<std::cell::Cell<bool>>,
}

impl Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let end = self.inner.position() + buf.len() as u64;
        if end > self.limit {
            self.over.set(true);
            return Err(std::io::Error::other("over the size limit"));
        }
        self.inner.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Seek for Capped {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(pos)
    }
}

fn zip_paths(paths: &[PathBuf], limit: u64) -> Result<Vec<u8>, ZipError> {
    use zip::write::SimpleFileOptions;
    // Every file with its name in the archive: a folder keeps its own name as the top directory.
    let mut items: Vec<(String, PathBuf)> = Vec::new();
    for p in paths {
        if p.is_dir() {
            let base = p.parent().map(Path::to_path_buf).unwrap_or_default();
            walk(p, &mut |f| {
                let rel = f.strip_prefix(&base).unwrap_or(f);
                let entry = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                items.push((entry, f.to_path_buf()));
                Ok(())
            })
            .map_err(ZipError::Desktop)?;
        } else {
            items.push((file_name(p), p.clone()));
        }
    }
    let opts = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(limit > u32::MAX as u64);
    let over = std::rc::Rc::new(std::cell::Cell::new(false));
    let mut zw = zip::ZipWriter::new(Capped {
        inner: Cursor::new(Vec::new()),
        limit,
        over: over.clone(),
    });
    let mut used = std::collections::HashSet::new();
    for (entry, path) in items {
        // Two dropped items with the same name: keep both.
        let mut name = entry.clone();
        let mut n = 1;
        while !used.insert(name.clone()) {
            n += 1;
            name = format!("{n}-{entry}");
        }
        let r = (|| -> std::io::Result<()> {
            let mut f = std::fs::File::open(&path)?;
            zw.start_file(name.as_str(), opts)?;
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let k = f.read(&mut buf)?;
                if k == 0 {
                    return Ok(());
                }
                zw.write_all(&buf[..k])?;
            }
        })();
        if let Err(e) = r {
            if over.get() {
                return Err(ZipError::TooLarge);
            }
            return Err(ZipError::Desktop(file_err(&path, &e)));
        }
    }
    match zw.finish() {
        Ok(c) => Ok(c.inner.into_inner()),
        Err(_) if over.get() => Err(ZipError::TooLarge),
        Err(e) => Err(ZipError::Desktop(DesktopError::Other(format!(
            "cannot zip the files: {e}"
        )))),
    }
}

/// Visits every regular file under `dir` (symbolic links are skipped, so a link loop cannot hang
/// the zip), sorted for a stable archive.
fn walk(
    dir: &Path,
    f: &mut dyn FnMut(&Path) -> Result<(), DesktopError>,
) -> Result<(), DesktopError> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| file_err(dir, &e))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        let md = std::fs::symlink_metadata(&p).map_err(|e| file_err(&p, &e))?;
        if md.is_dir() {
            walk(&p, f)?;
        } else if md.is_file() {
            f(&p)?;
        }
    }
    Ok(())
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into())
}

fn file_err(p: &Path, e: &std::io::Error) -> DesktopError {
    DesktopError::File {
        path: p.display().to_string(),
        message: e.to_string(),
    }
}

/// A media type from the file name, for the recipient's browser.
pub fn media_type(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "txt" | "md" | "log" | "env" | "ini" | "conf" | "cfg" | "toml" | "yaml" | "yml" => {
            "text/plain"
        }
        "pem" | "crt" | "cer" | "key" => "application/x-pem-file",
        "json" => "application/json",
        "csv" => "text/csv",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" | "tgz" => "application/gzip",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
        let mut z = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        let mut out = Vec::new();
        for i in 0..z.len() {
            let mut f = z.by_index(i).unwrap();
            let mut b = Vec::new();
            f.read_to_end(&mut b).unwrap();
            out.push((f.name().unwrap().to_string(), b));
        }
        out
    }

    #[test]
    fn a_folder_is_zipped_with_its_tree() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("certs");
        std::fs::create_dir_all(d.join("sub")).unwrap();
        std::fs::write(d.join("a.pem"), b"AAA").unwrap();
        std::fs::write(d.join("sub/b.key"), b"BBB").unwrap();
        let up = prepare(std::slice::from_ref(&d), None).unwrap();
        assert_eq!(up.meta.name, "certs.zip");
        let Source::Memory(bytes) = up.source else {
            panic!("expected a zip")
        };
        assert_eq!(
            unzip(&bytes),
            vec![
                ("certs/a.pem".to_string(), b"AAA".to_vec()),
                ("certs/sub/b.key".to_string(), b"BBB".to_vec())
            ]
        );
        assert_eq!(describe(&d).unwrap().size, 6);
    }

    #[test]
    fn several_files_are_zipped_and_same_names_kept() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("x")).unwrap();
        let a = t.path().join("a.txt");
        let b = t.path().join("x/a.txt");
        std::fs::write(&a, b"one").unwrap();
        std::fs::write(&b, b"two").unwrap();
        let up = prepare(&[a, b], None).unwrap();
        assert_eq!(up.meta.name, "seecret-2-items.zip");
        let Source::Memory(bytes) = up.source else {
            panic!("expected a zip")
        };
        let names: Vec<_> = unzip(&bytes).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["a.txt", "2-a.txt"]);
    }

    #[test]
    fn limits_are_checked_before_upload() {
        let t = tempfile::tempdir().unwrap();
        let a = t.path().join("big.bin");
        std::fs::write(&a, vec![7u8; 5000]).unwrap();
        let e = prepare(std::slice::from_ref(&a), Some(4000)).unwrap_err();
        assert_eq!(e.code(), "too_large");
        assert!(e.to_string().contains("big.bin is 5.0 KB"), "{e}");
        // Incompressible data zipped past the limit fails too.
        let mut x = 88_172_645_463_325_252u64;
        let noise: Vec<u8> = (0..20_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        std::fs::write(&a, noise).unwrap();
        let e = prepare(&[a.clone(), a], Some(10_000)).unwrap_err();
        assert_eq!(e.code(), "too_large", "{e}");
    }

    #[test]
    fn a_missing_file_says_which() {
        let e = prepare(&[PathBuf::from("/nonexistent/x.txt")], None).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/x.txt"), "{e}");
    }
}
