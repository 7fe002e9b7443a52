"""Who is calling and what they may do: token validation, the policy, and sealed forwarded tokens.

Used by `serving` (authenticate every request and delivery) and by `runtime` (seal the
`X-Authorization-*` headers an instance keeps for its calls). Nothing here touches the database.
"""
