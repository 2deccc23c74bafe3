#!/usr/bin/env ruby
# Katello's capsule-sync push (SmartProxyExtensions#sync_container_gateway) made with Foreman's own
# HTTP client: what ProxyAPI::Resource and ProxyAPI::ContainerGateway do, on RestClient 2.1, so
# the form encoding, headers and TLS are the real ones. Reads a JSON plan on stdin (the URL of
# the smart proxy, Foreman's certificate, key and CA, and Katello's payloads as Hashes); prints
# one line per request: "<METHOD> <path> <status or error class>". devtools/restclient.py runs it.
require 'json'
require 'openssl'
require 'rest-client'
require 'securerandom'
require 'uri'

plan = JSON.parse($stdin.read)

# ProxyAPI::Resource#initialize
params = {
  timeout: 120,
  open_timeout: 10,
  headers: { accept: :json, x_request_id: SecureRandom.uuid, x_session_id: SecureRandom.uuid },
  user: plan['user'],
  password: plan['password'],
}
if plan['url'].match?(/^https/i)
  params[:ssl_ca_file] = plan['ca']
  params[:verify_ssl] = OpenSSL::SSL::VERIFY_PEER
  if plan['cert']
    params[:ssl_client_cert] = OpenSSL::X509::Certificate.new(File.read(plan['cert']))
    params[:ssl_client_key] = OpenSSL::PKey.read(File.read(plan['key']))
  end
end

# ProxyAPI::ContainerGateway: <url>/container_gateway/<endpoint>; #put(payload, path = "") is
# resource[path].put(payload) (so a trailing slash), #get is resource.get.
def call(url, params, payload = nil)
  method, target = payload.nil? ? ['GET', url] : ['PUT', "#{url}/"]
  resource = RestClient::Resource.new(url, params)
  response = payload.nil? ? resource.get : resource[''].put(payload)
  puts "#{method} #{URI(target).path} #{response.code}"
  response.body
rescue RestClient::ExceptionWithResponse => e
  puts "#{method} #{URI(target).path} #{e.http_code}"
  nil
rescue StandardError => e # no HTTP answer: TLS refused, connection refused, timeout
  puts "#{method} #{URI(target).path} #{e.class}"
  nil
end

base = "#{plan['url']}/container_gateway"
call("#{base}/repository_list", params, plan['repository_list'])
known = (JSON.parse(call("#{base}/users", params) || '{}')['users'] || []).map(&:downcase)
# User.where(login: known): Foreman finds logins whatever their case.
users = plan['users'].select { |entry| known.include?(entry.keys.first.downcase) }
call("#{base}/user_repository_mapping", params, { 'users' => users }) unless users.empty?
unless plan['hosts'].empty?
  call("#{base}/update_hosts", params, { 'hosts' => plan['hosts'] })
  call("#{base}/host_repository_mapping", params, { 'hosts' => plan['host_repositories'] })
end
