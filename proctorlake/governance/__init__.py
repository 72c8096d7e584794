"""Governance: per-session keys (crypto-shredding), signing, retention, legal holds, storage
policy and GDPR erasure. Built on ``storage`` and ``core``."""
