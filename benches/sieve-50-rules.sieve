require ["fileinto", "imap4flags", "variables", "envelope", "mailbox"];
if header :contains "subject" "project-0" { fileinto "Projects/0"; stop; }
if address :is "from" "person1@example.org" { fileinto :create "People/1"; }
if header :matches "list-id" "*<list2.*>" { fileinto "Lists/2"; stop; }
if anyof (header :contains "x-spam-flag" "YES3", size :over 13M) { discard; stop; }
if envelope :domain :is "from" "domain4.example" { addflag "\\Flagged"; }
if header :contains "subject" "project-5" { fileinto "Projects/5"; stop; }
if address :is "from" "person6@example.org" { fileinto :create "People/6"; }
if header :matches "list-id" "*<list7.*>" { fileinto "Lists/7"; stop; }
if anyof (header :contains "x-spam-flag" "YES8", size :over 18M) { discard; stop; }
if envelope :domain :is "from" "domain9.example" { addflag "\\Flagged"; }
if header :contains "subject" "project-10" { fileinto "Projects/10"; stop; }
if address :is "from" "person11@example.org" { fileinto :create "People/11"; }
if header :matches "list-id" "*<list12.*>" { fileinto "Lists/12"; stop; }
if anyof (header :contains "x-spam-flag" "YES13", size :over 23M) { discard; stop; }
if envelope :domain :is "from" "domain14.example" { addflag "\\Flagged"; }
if header :contains "subject" "project-15" { fileinto "Projects/15"; stop; }
if address :is "from" "person16@example.org" { fileinto :create "People/16"; }
if header :matches "list-id" "*<list17.*>" { fileinto "Lists/17"; stop; }
if anyof (header :contains "x-spam-flag" "YES18", size :over 28M) { discard; stop; }
if envelope :domain :is "from" "domain19.example" { addflag "\\Flagged"; }
if header :contains "subject" "project-20" { fileinto "Projects/20"; stop; }
if address :is "from" "person21@example.org" { fileinto :create "People/21"; }
if header :matches "list-id" "*<list22.*>" { fileinto "Lists/22"; stop; }
if anyof (header :contains "x-spam-flag" "YES23", size :over 33M) { discard; stop; }
if envelope :domain :is "from" "domain24.example" { addflag "\\Flagged"; }
if header :contains "subject" "project-25" { fileinto "Projects/25"; stop; }
if address :is "from" "person26@example.org" { fileinto :create "People/26"; }
if header :matches "list-id" "*<list27.*>" { fileinto "Lists/27"; stop; }
if anyof (header :contains "x-spam-flag" "YES28", size :over 38M) { discard; stop; }
if envelope :domain :is "from" "domain29.example" { addflag "\\Flagged"; }
if header :contains "subject" "project-30" { fileinto "Projects/30"; stop; }
if address :is "from" "person31@example.org" { fileinto :create "People/31"; }
if header :matches "list-id" "*<list32.*>" { fileinto "Lists/32"; stop; }
if anyof (header :contains "x-spam-flag" "YES33", size :over 43M) { discard; stop; }
if envelope :domain :is "from" "domain34.example" { addflag "\\Flagged"; }
if header :contains "subject" "project-35" { fileinto "Projects/35"; stop; }
if address :is "from" "person36@example.org" { fileinto :create "People/36"; }
if header :matches "list-id" "*<list37.*>" { fileinto "Lists/37"; stop; }
if anyof (header :contains "x-spam-flag" "YES38", size :over 48M) { discard; stop; }
if envelope :domain :is "from" "domain39.example" { addflag "\\Flagged"; }
if header :contains "subject" "project-40" { fileinto "Projects/40"; stop; }
if address :is "from" "person41@example.org" { fileinto :create "People/41"; }
if header :matches "list-id" "*<list42.*>" { fileinto "Lists/42"; stop; }
if anyof (header :contains "x-spam-flag" "YES43", size :over 53M) { discard; stop; }
if envelope :domain :is "from" "domain44.example" { addflag "\\Flagged"; }
if header :contains "subject" "project-45" { fileinto "Projects/45"; stop; }
if address :is "from" "person46@example.org" { fileinto :create "People/46"; }
if header :matches "list-id" "*<list47.*>" { fileinto "Lists/47"; stop; }
if anyof (header :contains "x-spam-flag" "YES48", size :over 58M) { discard; stop; }
if header :matches "subject" "Invoice *" { fileinto "Invoices/${1}"; }
