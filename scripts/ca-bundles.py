# Prints, one a line, the CA bundles the venv's AWS SDKs verify HTTPS against: botocore's
# (certifi's when certifi is installed) and that of the botocore awscli 1.4x vendors.
# Used by scripts/test (to reset them) and testkit (to add test CAs).
from botocore.httpsession import where

print(where())
try:
    from awscli.botocore.httpsession import where as vendored_where

    print(vendored_where())
except ImportError:
    pass
