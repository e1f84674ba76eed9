//! The image: its tag (a hash of the Containerfile and the binary), and the check that
//! the binary is statically linked, by reading its ELF headers.

use super::*;

/// `aws-sso-ecs:<version>-<hash>`, the hash over the Containerfile and the binary.
pub(super) fn image_tag(binary: &Path) -> anyhow::Result<String> {
    let sha256 = rustls::crypto::aws_lc_rs::cipher_suite::TLS13_AES_128_GCM_SHA256
        .tls13()
        .map(|suite| suite.common.hash_provider)
        .context("the TLS 1.3 SHA-256 suite is missing")?;
    let mut ctx = sha256.start();
    ctx.update(CONTAINERFILE.as_bytes());
    let mut file =
        File::open(binary).with_context(|| format!("cannot open {}", binary.display()))?;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", binary.display()))?;
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
    }
    let digest = hex::encode(ctx.finish().as_ref());
    Ok(format!(
        "{IMAGE_NAME}:{}-{}",
        env!("CARGO_PKG_VERSION"),
        &digest[..12]
    ))
}

/// Refuses anything but a statically linked ELF executable for this machine: the image is
/// `FROM scratch`, with no dynamic loader or libc.
pub(super) fn check_static_binary(path: &Path) -> anyhow::Result<()> {
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut header = [0u8; 64];
    file.read_exact(&mut header)
        .with_context(|| format!("{} is not an ELF executable", path.display()))?;
    let elf = Elf64::parse(&header).with_context(|| format!("{} is refused", path.display()))?;
    if let Some(expected) = host_machine()
        && elf.machine != expected
    {
        bail!(
            "{} is built for another architecture (ELF machine {}, this one is {expected})",
            path.display(),
            elf.machine
        );
    }
    let len = usize::from(elf.phentsize) * usize::from(elf.phnum);
    let mut table = vec![0u8; len];
    file.seek(SeekFrom::Start(elf.phoff))
        .and_then(|_| file.read_exact(&mut table))
        .with_context(|| format!("cannot read the program headers of {}", path.display()))?;
    if elf.has_segment(&table, PT_INTERP) {
        let arch = std::env::consts::ARCH;
        bail!(
            "{} is dynamically linked (it names an ELF interpreter), but the image is FROM scratch, without a dynamic loader or libc. Build a static aws-sso and pass it with --binary:\n  RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --target {arch}-unknown-linux-gnu -p cli\n  aws-sso ecs docker start --binary target/{arch}-unknown-linux-gnu/release/aws-sso",
            path.display()
        );
    }
    Ok(())
}

/// The program header type of the dynamic loader's path.
pub(super) const PT_INTERP: u32 = 3;

/// What matters here of a 64-bit ELF header.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Elf64 {
    pub(super) big_endian: bool,
    pub(super) machine: u16,
    pub(super) phoff: u64,
    pub(super) phentsize: u16,
    pub(super) phnum: u16,
}

impl Elf64 {
    pub(super) fn parse(h: &[u8; 64]) -> anyhow::Result<Self> {
        if h[..4] != *b"\x7fELF" {
            bail!("not an ELF file");
        }
        if h[4] != 2 {
            bail!("not a 64-bit ELF file");
        }
        let big_endian = match h[5] {
            1 => false,
            2 => true,
            _ => bail!("unknown ELF byte order"),
        };
        let u16_at = |at: usize| {
            let b = [h[at], h[at + 1]];
            if big_endian {
                u16::from_be_bytes(b)
            } else {
                u16::from_le_bytes(b)
            }
        };
        let mut b = [0u8; 8];
        b.copy_from_slice(&h[0x20..0x28]);
        let phoff = if big_endian {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        };
        // ET_EXEC or ET_DYN (a static-pie executable is ET_DYN without PT_INTERP).
        if !matches!(u16_at(0x10), 2 | 3) {
            bail!("not an ELF executable");
        }
        let elf = Elf64 {
            big_endian,
            machine: u16_at(0x12),
            phoff,
            phentsize: u16_at(0x36),
            phnum: u16_at(0x38),
        };
        if elf.phentsize < 4 || elf.phnum == 0 {
            bail!("an ELF executable without program headers");
        }
        Ok(elf)
    }

    /// Whether the program header table holds a segment of type `p_type`.
    pub(super) fn has_segment(&self, table: &[u8], p_type: u32) -> bool {
        table
            .chunks_exact(usize::from(self.phentsize))
            .any(|entry| {
                let b = [entry[0], entry[1], entry[2], entry[3]];
                let t = if self.big_endian {
                    u32::from_be_bytes(b)
                } else {
                    u32::from_le_bytes(b)
                };
                t == p_type
            })
    }
}

/// The ELF `e_machine` of this host, where known.
pub(super) fn host_machine() -> Option<u16> {
    match std::env::consts::ARCH {
        "x86_64" => Some(62),
        "aarch64" => Some(183),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn header(class: u8, data: u8, e_type: u16, phnum: u16) -> [u8; 64] {
        let mut h = [0u8; 64];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = class;
        h[5] = data;
        h[0x10..0x12].copy_from_slice(&e_type.to_le_bytes());
        h[0x12..0x14].copy_from_slice(&62u16.to_le_bytes());
        h[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        h[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        h[0x38..0x3a].copy_from_slice(&phnum.to_le_bytes());
        h
    }

    #[test]
    fn elf_headers_are_parsed_and_refused_by_hand() {
        let elf = Elf64::parse(&header(2, 1, 3, 2)).unwrap();
        assert_eq!(
            elf,
            Elf64 {
                big_endian: false,
                machine: 62,
                phoff: 64,
                phentsize: 56,
                phnum: 2
            }
        );
        let mut table = vec![0u8; 112];
        table[..4].copy_from_slice(&6u32.to_le_bytes()); // PT_PHDR
        table[56..60].copy_from_slice(&1u32.to_le_bytes()); // PT_LOAD
        assert!(!elf.has_segment(&table, PT_INTERP));
        table[56..60].copy_from_slice(&PT_INTERP.to_le_bytes());
        assert!(elf.has_segment(&table, PT_INTERP));

        let err = |h: [u8; 64]| format!("{:#}", Elf64::parse(&h).unwrap_err());
        assert_eq!(err(header(1, 1, 2, 2)), "not a 64-bit ELF file");
        assert_eq!(err(header(2, 1, 1, 2)), "not an ELF executable");
        assert_eq!(
            err(header(2, 1, 2, 0)),
            "an ELF executable without program headers"
        );
        let mut not_elf = header(2, 1, 2, 2);
        not_elf[0] = b'#';
        assert_eq!(err(not_elf), "not an ELF file");
    }

    #[test]
    fn this_dynamically_linked_test_binary_is_refused() {
        let exe = std::env::current_exe().unwrap();
        let err = format!("{:#}", check_static_binary(&exe).unwrap_err());
        assert!(err.contains("is dynamically linked"), "{err}");
        assert!(err.contains("+crt-static"), "{err}");
        let err = format!(
            "{:#}",
            check_static_binary(Path::new("/etc/hostname")).unwrap_err()
        );
        assert!(
            err.contains("is refused") || err.contains("not an ELF"),
            "{err}"
        );
    }

    #[test]
    fn image_tags_follow_the_binary() {
        let dir = std::env::temp_dir().join(format!("aws-sso-tag-test-{}", random_hex(6).unwrap()));
        fs::create_dir(&dir).unwrap();
        let (a, b) = (dir.join("a"), dir.join("b"));
        fs::write(&a, b"one").unwrap();
        fs::write(&b, b"two").unwrap();
        let tag = image_tag(&a).unwrap();
        assert!(
            tag.starts_with(&format!("aws-sso-ecs:{}-", env!("CARGO_PKG_VERSION"))),
            "{tag}"
        );
        assert_eq!(
            tag.len(),
            "aws-sso-ecs:".len() + env!("CARGO_PKG_VERSION").len() + 13
        );
        assert_eq!(image_tag(&a).unwrap(), tag);
        assert_ne!(image_tag(&b).unwrap(), tag);
        fs::remove_dir_all(&dir).unwrap();
    }
}
