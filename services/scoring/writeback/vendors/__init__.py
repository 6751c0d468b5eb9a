"""One adapter per CRM, each a `CrmWriter` (../vendor.py) over the vendor's own client."""
