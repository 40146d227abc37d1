require ["variables","imap4flags","relational","comparator-i;ascii-numeric","envelope","subaddress","copy","mailbox","vacation","body","encoded-character"];
if header :matches "subject" "*?*" { set :upper "s" "${1}"; }
if address :detail "to" "x" { addflag "\\Seen"; }
if header :count "ge" :comparator "i;ascii-numeric" "received" "3" { fileinto :copy :create "${s}"; }
if envelope :localpart :is "from" "a" { vacation :days 1 "away ${hex:41}"; }
if body :contains "body" { redirect "x@example.org"; } else { discard; }
