"""Extract: archived pages -> article records and recorded rejects (BeautifulSoup)."""
