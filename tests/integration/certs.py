"""Test certificates made with the openssl CLI: a CA, peer certificates with a DNS SAN, and the
bad ones the mTLS tests need (another CA, a wrong SAN, an expired certificate)."""
import os
import subprocess
import tempfile

PEER_NAME = "podcache-peer"


def _run(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


class CertFactory:
    def __init__(self, directory=None):
        self.dir = directory or tempfile.mkdtemp(prefix="podcache-certs-")

    def path(self, name):
        return os.path.join(self.dir, name)

    def ca(self, name="ca"):
        """A self-signed CA: returns (cert path, key path)."""
        _run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", name + ".key", "-out", name + ".crt", "-days", "30", "-subj", "/CN=" + name,
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             cwd=self.dir)
        return self.path(name + ".crt"), self.path(name + ".key")

    def cert(self, name, ca="ca", san=PEER_NAME, expired=False, eku="serverAuth,clientAuth"):
        """A certificate for both TLS ends (by default: `eku` is its extendedKeyUsage) signed by `ca`:
        returns (cert path, key path)."""
        _run("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name, cwd=self.dir)
        with open(self.path(name + ".ext"), "w") as f:
            f.write("subjectAltName=DNS:%s\nextendedKeyUsage=%s\n"
                    "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n" % (san, eku))
        if not expired:
            _run("x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt", "-CAkey", ca + ".key",
                 "-CAcreateserial", "-days", "30", "-extfile", name + ".ext", "-out", name + ".crt", cwd=self.dir)
        else:
            # `openssl ca` can set dates in the past; it wants a small database.
            db = self.path("ca-db-" + name)
            os.makedirs(db, exist_ok=True)
            open(os.path.join(db, "index.txt"), "w").close()
            with open(os.path.join(db, "serial"), "w") as f:
                f.write("1000\n")
            with open(self.path(name + ".cnf"), "w") as f:
                f.write("[ca]\ndefault_ca=d\n[d]\ndatabase=%s/index.txt\nserial=%s/serial\nnew_certs_dir=%s\n"
                        "default_md=sha256\npolicy=p\ncopy_extensions=none\n[p]\ncommonName=supplied\n" % (db, db, db))
            _run("ca", "-batch", "-config", name + ".cnf", "-cert", ca + ".crt", "-keyfile", ca + ".key",
                 "-startdate", "20200101000000Z", "-enddate", "20200201000000Z", "-extfile", name + ".ext",
                 "-in", name + ".csr", "-out", name + ".crt", "-notext", cwd=self.dir)
        return self.path(name + ".crt"), self.path(name + ".key")
