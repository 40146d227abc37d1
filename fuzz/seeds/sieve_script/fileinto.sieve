require ["fileinto"];
if header :contains "subject" "invoice" { fileinto "Invoices"; }
