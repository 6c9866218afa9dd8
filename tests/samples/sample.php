<?php
$ch = curl_init("https://seecret.it/api.php");
curl_setopt_array($ch, [
  CURLOPT_RETURNTRANSFER => true,
  CURLOPT_POST           => true,
  CURLOPT_HTTPHEADER     => [
    "Authorization: Bearer YOUR_TOKEN",
    "Content-Type: application/json"
  ],
  CURLOPT_POSTFIELDS => json_encode([
    "operation"  => "create_seecret",
    "content"    => "Password2026!",
    "expiration" => "24h",
    "views"      => 1
  ])
]);
echo json_decode(curl_exec($ch), true)["url"];
